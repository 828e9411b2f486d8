"""The SQLAlchemy store: models, engine and migrations."""
