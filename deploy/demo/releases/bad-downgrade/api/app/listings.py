"""The listings the app serves, in a release whose migration dropped created_at while this
code still reads it: /health answers 503."""
from sqlalchemy import text


def count(connection) -> int:
    return connection.execute(
        text("SELECT count(*) FROM listings WHERE created_at IS NOT NULL")).scalar_one()


def rows(connection, limit: int = 100) -> list[dict]:
    result = connection.execute(
        text("SELECT id, title, price_eur, created_at FROM listings ORDER BY id LIMIT :limit"),
        {"limit": limit})
    return [dict(row._mapping) for row in result]
