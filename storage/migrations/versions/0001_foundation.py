"""foundation tables

Revision ID: 0001_foundation
Revises: 
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0001_foundation'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=True),
    sa.Column('language_code', sa.String(length=16), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('first_seen_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('blocked_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('telegram_user_id', name=op.f('uq_customers_telegram_user_id'))
    )
    op.create_table('faq_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('alt', sa.JSON(), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=True),
    sa.Column('updated_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_entries')),
    sa.UniqueConstraint('key', 'lang', name=op.f('uq_faq_entries_key'))
    )
    op.create_table('phrase_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('updated_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phrase_templates')),
    sa.UniqueConstraint('key', 'lang', name=op.f('uq_phrase_templates_key'))
    )
    op.create_table('shop_settings',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_shop_settings'))
    )
    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('opened_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_activity_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('greeted_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('queued_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('escalation_reason', sa.String(length=32), nullable=True),
    sa.Column('agent_id', sa.BigInteger(), nullable=True),
    sa.Column('reply_due_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('misunderstood_in_row', sa.Integer(), nullable=False),
    sa.Column('last_phrase_key', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_conversations_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversations_customer_state', ['customer_id', 'state'], unique=False)
        batch_op.create_index('ix_conversations_reply_due_at', ['reply_due_at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.BigInteger(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_events_conversation_id_conversations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_events_kind_at', ['kind', 'at'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('update_id', sa.BigInteger(), nullable=True),
    sa.Column('telegram_message_id', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('handled_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('meaning', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_messages_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('update_id', name=op.f('uq_messages_update_id'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_conversation_created', ['conversation_id', 'created_at'], unique=False)
        batch_op.create_index('ix_messages_unhandled', ['handled_at', 'sender'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_unhandled')
        batch_op.drop_index('ix_messages_conversation_created')

    op.drop_table('messages')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_kind_at')
        batch_op.drop_index(batch_op.f('ix_events_conversation_id'))

    op.drop_table('events')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_reply_due_at')
        batch_op.drop_index('ix_conversations_customer_state')

    op.drop_table('conversations')
    op.drop_table('shop_settings')
    op.drop_table('phrase_templates')
    op.drop_table('faq_entries')
    op.drop_table('customers')
