"""Progress on a terminal: which target and step, time left in it, and overall.

On a terminal one status line is rewritten in place; elsewhere (CI logs) each
step is printed once. Estimates come from the plan's durations.
"""
import sys
import threading
import time


class Progress:
    def __init__(self, planned_seconds, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.planned = planned_seconds
        self.spent_plan = 0.0
        self.started = time.monotonic()
        self.step_started = self.started
        self.step_expected = 0.0
        self.label = ''
        self._stopped = threading.Event()
        if self.tty:       # the line keeps counting down during probes that don't report
            threading.Thread(target=self._tick_every_second, daemon=True).start()

    def _tick_every_second(self):
        while not self._stopped.wait(1.0):
            self.tick()

    def step(self, target, name, expected_seconds):
        self.spent_plan += self.step_expected
        self.step_expected = expected_seconds
        self.step_started = time.monotonic()
        self.label = f'{target} · {name}'
        if not self.tty:
            print(f'[{self._elapsed()}] {self.label}', file=self.stream, flush=True)
        self.tick()

    def tick(self, detail=''):
        if not self.tty:
            return
        in_step = time.monotonic() - self.step_started
        step_left = max(0.0, self.step_expected - in_step)
        overall = max(0.0, self.planned - self.spent_plan - min(in_step, self.step_expected))
        detail = f' · {detail}' if isinstance(detail, str) and detail else ''
        line = (f'{self.label}{detail} · {step_left:4.0f} s left in step · '
                f'~{overall / 60:4.1f} min left overall')
        self.stream.write('\r\033[K' + line[:150])
        self.stream.flush()

    def _elapsed(self):
        seconds = int(time.monotonic() - self.started)
        return f'{seconds // 60:02d}:{seconds % 60:02d}'

    def done(self, message):
        self._stopped.set()
        if self.tty:
            self.stream.write('\r\033[K')
        print(f'[{self._elapsed()}] {message}', file=self.stream, flush=True)
