"""web chat: pictures uploaded by web visitors or sent to them

Revision ID: 0012_web_images
Revises: 0011_web_channel
"""

from alembic import op
import sqlalchemy as sa

import storage.base


revision = '0012_web_images'
down_revision = '0011_web_channel'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_chat_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_images'))
    )
    with op.batch_alter_table('web_images', schema=None) as batch_op:
        batch_op.create_index('ix_web_images_owner_message', ['owner_chat_id', 'message_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_images', schema=None) as batch_op:
        batch_op.drop_index('ix_web_images_owner_message')
    op.drop_table('web_images')
