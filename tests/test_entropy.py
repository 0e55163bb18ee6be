"""sessiondemo/entropy.py: the OS's random bytes, drawn a block at a time,
each handed out once: never twice in a thread, across threads, or across a fork."""
import os
import re
import threading

from sessiondemo import entropy


def test_tokens_have_the_shapes_secrets_gives():
    assert len(entropy.token_bytes(12)) == 12
    assert re.fullmatch(r'[0-9a-f]{40}', entropy.token_hex(20))
    assert re.fullmatch(r'[A-Za-z0-9_-]{22}', entropy.token_urlsafe(16))
    assert len(entropy.token_bytes(entropy.BLOCK + 1)) == entropy.BLOCK + 1


def test_no_bytes_are_handed_out_twice_across_blocks():
    # Past several blocks' ends, with sizes that do not divide the block.
    tokens = [entropy.token_bytes(12) for _ in range(5 * entropy.BLOCK // 12)]
    assert len(set(tokens)) == len(tokens)


def test_threads_draw_distinct_bytes():
    barrier = threading.Barrier(8)
    drawn = [[] for _ in range(8)]

    def draw(into):
        barrier.wait()
        into.extend(entropy.token_bytes(16) for _ in range(600))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [token for tokens in drawn for token in tokens]
    assert len(set(every)) == len(every) == 8 * 600


def test_a_forked_child_never_reuses_its_parents_block():
    entropy.token_bytes(1)              # this thread's block is drawn, and would be inherited
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                        # the child: its next 16 bytes, to the parent
        try:
            os.write(write_end, entropy.token_bytes(16))
        finally:
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    child = os.read(read_end, 16)
    os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0 and len(child) == 16
    assert child != entropy.token_bytes(16)
