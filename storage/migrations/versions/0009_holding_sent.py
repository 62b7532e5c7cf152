"""conversation lifecycle: holding replies sent for the latest shopper message (P2 back-off)

Revision ID: 0009_holding_sent
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0009_holding_sent'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holding_sent', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('holding_sent')
