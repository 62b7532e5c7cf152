"""complaint cause and owner confirmation (P14)

Revision ID: 0009_complaint_cause
Revises: 0004_shifts
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0009_complaint_cause'
down_revision = '0004_shifts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cause', sa.String(length=16), nullable=False,
                                      server_default='other'))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='recorded'))
        batch_op.add_column(sa.Column('last_message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('charged_at', storage.base.UtcDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('charged_by', sa.BigInteger(), nullable=True))
    # Earlier complaints were charged as soon as they were seen: they keep their steps
    # (the owner can still take one back with /unfounded); taken-back ones stay dismissed.
    op.execute("UPDATE complaints SET status = 'dismissed' WHERE unfounded_at IS NOT NULL")
    op.execute("UPDATE complaints SET status = 'charged', charged_at = created_at "
               "WHERE unfounded_at IS NULL AND agent_id IS NOT NULL AND step > 0")


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        for column in ('charged_by', 'charged_at', 'last_message_id', 'status', 'cause'):
            batch_op.drop_column(column)
