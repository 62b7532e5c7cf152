"""indexes for reports by period

Revision ID: 0006_report_indexes
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0006_report_indexes'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversations_opened_at', ['opened_at'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_created_at', ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_created_at')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_opened_at')

