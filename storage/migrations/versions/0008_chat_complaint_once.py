"""chat complaint ticket once

Revision ID: 0008_chat_complaint_once
Revises: 0005_orders
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_chat_complaint_once'
down_revision = '0005_orders'
branch_labels = None
depends_on = None

CHAT_COMPLAINT = "kind = 'complaint' AND opened_by = 'system'"


def upgrade() -> None:
    # Two processes may have tracked one chat complaint twice before this index: the later
    # copies stay (history, statistics) but no longer count as the chat complaint's ticket.
    op.execute(
        "UPDATE tickets SET opened_by = 'system:dup' "
        f"WHERE {CHAT_COMPLAINT} AND conversation_id IS NOT NULL AND id NOT IN ("
        f"SELECT min(id) FROM tickets WHERE {CHAT_COMPLAINT} AND conversation_id IS NOT NULL "
        "GROUP BY conversation_id)"
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('uq_tickets_chat_complaint', ['conversation_id'], unique=True,
                              sqlite_where=sa.text(CHAT_COMPLAINT),
                              postgresql_where=sa.text(CHAT_COMPLAINT))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('uq_tickets_chat_complaint')
