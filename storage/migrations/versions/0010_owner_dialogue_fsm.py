"""owner dialogue state moves to aiogram's FSM: the 'pending:<owner>' settings rows go

Revision ID: 0010_owner_dialogue_fsm
Revises: 0001_foundation

The owner's half-done steps (a template preview waiting for Save, an inbox answer) were kept
as ``pending:<owner id>`` rows in shop_settings, a second dialogue store beside aiogram's FSM.
They live in the FSM now (memory, or Redis shared by every process); a step left half-done
across this upgrade is simply asked for again.
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_owner_dialogue_fsm'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM shop_settings WHERE key LIKE 'pending:%'"))


def downgrade() -> None:
    pass  # nothing to restore: the rows were transient dialogue steps
