"""The listings the app serves, as the demo's bad release ships them: the code reads
price_cents, while its migration (0003) named the column price_amount."""
from sqlalchemy import text


def count(connection) -> int:
    # /health calls this, so the mismatch shows there: column "price_cents" does not exist.
    return connection.execute(
        text("SELECT count(*) FROM listings WHERE price_cents IS NOT NULL")).scalar_one()


def rows(connection, limit: int = 100) -> list[dict]:
    result = connection.execute(
        text("SELECT id, title, price_cents, currency, created_at FROM listings"
             " ORDER BY id LIMIT :limit"),
        {"limit": limit})
    return [dict(row._mapping) for row in result]
