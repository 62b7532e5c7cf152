"""follow-up scores (P17: 服务态度, 解决时间, 处理情况)

Revision ID: 0010_follow_up_scores
Revises: 0005_orders
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_follow_up_scores'
down_revision = '0005_orders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        # Earlier follow-ups asked no scored questions.
        batch_op.add_column(sa.Column('scores', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_column('scores')
