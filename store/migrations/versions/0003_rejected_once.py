"""a rejected line is stored once

Re-ingesting the same bad file stored its rejected lines again (57 rows for
19 lines after three runs). Each row now carries a fingerprint of its
location and raw text, unique, and a count of how often the line came: the
rows already stored are fingerprinted, and repeats folded into the first.

Revision ID: 0003_rejected_once
Revises: 0002
Create Date: 2026-12-01
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0003_rejected_once"
down_revision = "0002"
branch_labels = None
depends_on = None

CHUNK = 5000


def fingerprint(location, raw):
    """As store.history.fingerprint computes it at the time of this migration."""
    where = (location or "").encode("utf-8", "surrogatepass")
    text = raw.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(b"%d:%s%s" % (len(where), where, text), digest_size=16).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("rejected_events") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("received_count", sa.Integer(), nullable=False, server_default="1"))

    conn = op.get_bind()
    table = sa.table("rejected_events", sa.column("id", sa.Integer), sa.column("location", sa.String),
                     sa.column("raw", sa.Text), sa.column("fingerprint", sa.String),
                     sa.column("received_count", sa.Integer))
    first: dict[str, int] = {}  # fingerprint -> id of the row that keeps it
    repeats: dict[int, int] = {}  # that id -> how many rows it stands for
    doomed: list[int] = []
    last = 0
    while True:
        rows = conn.execute(sa.select(table.c.id, table.c.location, table.c.raw)
                            .where(table.c.id > last).order_by(table.c.id).limit(CHUNK)).all()
        if not rows:
            break
        updates = []
        for id_, location, raw in rows:
            key = fingerprint(location, raw)
            keeper = first.setdefault(key, id_)
            if keeper == id_:
                updates.append({"row_id": id_, "fp": key})
            else:
                repeats[keeper] = repeats.get(keeper, 1) + 1
                doomed.append(id_)
        if updates:
            conn.execute(table.update().where(table.c.id == sa.bindparam("row_id"))
                         .values(fingerprint=sa.bindparam("fp")), updates)
        last = rows[-1][0]
    for i in range(0, len(doomed), CHUNK):
        conn.execute(table.delete().where(table.c.id.in_(doomed[i:i + CHUNK])))
    if repeats:
        conn.execute(table.update().where(table.c.id == sa.bindparam("row_id"))
                     .values(received_count=sa.bindparam("n")),
                     [{"row_id": k, "n": n} for k, n in repeats.items()])

    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column("fingerprint", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("received_count", existing_type=sa.Integer(), server_default=None)
        batch.create_unique_constraint("uq_rejected_fingerprint", ["fingerprint"])


def downgrade() -> None:
    with op.batch_alter_table("rejected_events") as batch:
        batch.drop_constraint("uq_rejected_fingerprint", type_="unique")
        batch.drop_column("received_count")
        batch.drop_column("fingerprint")
