"""login_failures: throttling counts shared by every app process

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_failures',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('window_end', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_failures')),
    )
    op.create_index(op.f('ix_login_failures_window_end'), 'login_failures', ['window_end'])


def downgrade():
    op.drop_index(op.f('ix_login_failures_window_end'), table_name='login_failures')
    op.drop_table('login_failures')
