"""revoked_sessions: the cookie store's deny list of logged-out sessions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'revoked_sessions',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_revoked_sessions')),
    )
    op.create_index(op.f('ix_revoked_sessions_expires_at'), 'revoked_sessions', ['expires_at'])


def downgrade():
    op.drop_index(op.f('ix_revoked_sessions_expires_at'), table_name='revoked_sessions')
    op.drop_table('revoked_sessions')
