"""web chat: the channel of customers and conversations

Revision ID: 0011_web_channel
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_web_channel'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('customers', 'conversations'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('channel', sa.String(length=16), nullable=False,
                                       server_default='telegram'))


def downgrade() -> None:
    for table in ('customers', 'conversations'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('channel')
