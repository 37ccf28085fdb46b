"""The listings the app serves. Small on purpose: a test overlay replaces this one file to
simulate a bad release (code that expects a schema the database does not have)."""
from sqlalchemy import text


def count(connection) -> int:
    # /health calls this: a cheap real query the app depends on, so a code/schema mismatch
    # turns /health red instead of only the pages that use it.
    return connection.execute(text("SELECT count(*) FROM listings")).scalar_one()


def rows(connection, limit: int = 100) -> list[dict]:
    result = connection.execute(
        text("SELECT id, title, price_eur, created_at FROM listings ORDER BY id LIMIT :limit"),
        {"limit": limit})
    return [dict(row._mapping) for row in result]
