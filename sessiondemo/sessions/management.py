"""A user's own sessions (the contract's "Managing one's sessions"): list them,
revoke one, revoke all the others.

Server-side stores answer from their per-user index. The cookie store keeps no
list of the cookies it has handed out: it can show and revoke only the current
one, and revoking the others works through the user's session epoch
(security.py), which makes every cookie minted before it anonymous.
"""
from .record import client_metadata, handle_of, store_key


def describe(key, record, current):
    """One row of GET /api/sessions (times as Unix seconds)."""
    return {'handle': handle_of(key), 'created_at': record.created,
            'last_seen_at': record.touched, 'user_agent': record.user_agent,
            'ip': record.ip, 'current': current}


def _current_key(request):
    sid = request.session.sid
    return store_key(sid) if sid else None


class ServerSideSessions:
    def __init__(self, backend):
        self.store = backend.store
        self.timeouts = backend.timeouts
        self.clock = backend.clock

    def list(self, request, user_id):
        """The user's live sessions, newest first."""
        now = self.clock()
        current = _current_key(request)
        rows = [describe(key, record, key == current)
                for key, record in self.store.sessions_of(user_id)
                if record.expires_at(self.timeouts) > now]
        return sorted(rows, key=lambda row: row['created_at'], reverse=True)

    def revoke(self, request, user_id, handle):
        """Delete the user's session named by ``handle``; False if there is none."""
        for key, _ in self.store.sessions_of(user_id):
            if handle_of(key) == handle:
                if key == _current_key(request):
                    request.session.invalidate()     # revoking oneself is logging out
                else:
                    self.store.delete(key)
                return True
        return False

    def revoke_others(self, request, user_id):
        """Delete every other session of the user; how many were still live."""
        now = self.clock()
        current = _current_key(request)
        others = [(key, record) for key, record in self.store.sessions_of(user_id)
                  if key != current]
        for key, _ in others:
            self.store.delete(key)
        return sum(1 for _, record in others if record.expires_at(self.timeouts) > now)


class CookieSessions:
    def list(self, request, user_id):
        session = request.session
        if session.sid is None:
            return []
        record = session.record
        record.user_agent, record.ip = client_metadata(request)
        return [describe(store_key(session.sid), record, True)]

    def revoke(self, request, user_id, handle):
        session = request.session
        if session.sid and handle_of(store_key(session.sid)) == handle:
            session.invalidate()
            return True
        return False

    def revoke_others(self, request, user_id):
        return 0      # not countable; the epoch bump has revoked them all


def user_sessions(backend):
    return CookieSessions() if getattr(backend, 'store', None) is None \
        else ServerSideSessions(backend)
