"""update inbox: long-polled updates stored before Telegram is told they arrived

Revision ID: 0009_update_inbox
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0009_update_inbox'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('update_inbox',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('update_id', name=op.f('pk_update_inbox'))
    )


def downgrade() -> None:
    op.drop_table('update_inbox')
