"""customer tags

Revision ID: 0007_customer_tags
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0007_customer_tags'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        # Existing customers start with no tags.
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('tags')

