"""audit_log: the owner's changes in one table, with who, when and how to undo

Revision ID: 0011_audit_log
Revises: 0001_foundation

The changes were ``owner_change`` rows among the report events; they are copied here (same
time, owner and details) and removed from ``events``, so there is one log of changes.
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0011_audit_log'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    audit = op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_name', sa.String(length=128), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('undo', sa.JSON(), nullable=True),
    sa.Column('undone_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('undone_by', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_action'), 'audit_log', ['action'], unique=False)
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    events = sa.table('events', sa.column('id', sa.Integer()), sa.column('kind', sa.String()),
                      sa.column('at', storage.base.UtcDateTime(timezone=True)),
                      sa.column('agent_id', sa.BigInteger()), sa.column('data', sa.JSON()))
    bind = op.get_bind()
    rows = bind.execute(sa.select(events.c.at, events.c.agent_id, events.c.data)
                        .where(events.c.kind == 'owner_change').order_by(events.c.id)).all()
    if rows:
        op.bulk_insert(audit, [
            {'at': at, 'actor_id': agent_id, 'action': str((data or {}).get('action', 'change'))[:40],
             'details': {k: v for k, v in (data or {}).items() if k != 'action'}}
            for at, agent_id, data in rows])
        bind.execute(sa.delete(events).where(events.c.kind == 'owner_change'))


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_action'), table_name='audit_log')
    op.drop_table('audit_log')
