"""sla clock columns

Revision ID: 0003_sla
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0003_sla'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_misses', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('waiting_since', storage.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('off_hours_until', storage.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('longest_wait_seconds', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('first_human_reply_at', storage.base.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('first_human_reply_at')
        batch_op.drop_column('longest_wait_seconds')
        batch_op.drop_column('off_hours_until')
        batch_op.drop_column('waiting_since')
        batch_op.drop_column('sla_misses')
