"""sessions: the SQL session store's table

Revision ID: 0002_sessions
Revises: 0001
Create Date: 2026-11-23

``key`` is the SHA-256 (hex) of the session id, never the id itself: a dump of
this table gives nobody a cookie that works. Times are Unix seconds (the
session core's clock), so expiry is one numeric comparison on an index.
"""
from alembic import op
import sqlalchemy as sa

revision = '0002_sessions'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sessions',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=True),
        sa.Column('created', sa.Float(precision=53), nullable=False),
        sa.Column('touched', sa.Float(precision=53), nullable=False),
        sa.Column('expires_at', sa.Float(precision=53), nullable=False),
        sa.Column('user_agent', sa.String(length=256), nullable=False, server_default=''),
        sa.Column('ip', sa.String(length=64), nullable=False, server_default=''),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_sessions')),
    )
    # user_id: a user's sessions (listing, revoking); expires_at: the purge.
    op.create_index(op.f('ix_sessions_user_id'), 'sessions', ['user_id'])
    op.create_index(op.f('ix_sessions_expires_at'), 'sessions', ['expires_at'])


def downgrade():
    op.drop_index(op.f('ix_sessions_expires_at'), table_name='sessions')
    op.drop_index(op.f('ix_sessions_user_id'), table_name='sessions')
    op.drop_table('sessions')
