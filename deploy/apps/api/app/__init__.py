"""HomeGuru api: the smallest reference app (FastAPI, SQLAlchemy, Alembic) probe checks."""
