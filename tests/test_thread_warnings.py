"""Warnings are captured per thread: a decoder thread that drops Pillow's warnings while the
engine thread records a job's warnings must not swallow the job's, in whatever order the
two blocks begin and end (process-wide catch_warnings did, and CI lost a warning)."""
import threading
import warnings

from convscope.engine.thread_warnings import captured, reraise


def _in_thread(enter: threading.Event, leave: threading.Event, out: list):
    def run():
        with captured() as caught:  # as engine.images.load_image drops Pillow's warnings
            enter.set()
            leave.wait(10)
        out.append(caught)
    t = threading.Thread(target=run)
    t.start()
    return t


def test_each_thread_gets_its_own_warnings_whatever_the_order_of_the_blocks():
    entered, leave, other = threading.Event(), threading.Event(), []
    t = _in_thread(entered, leave, other)
    assert entered.wait(10)
    with captured() as mine:  # entered after the other thread's block...
        leave.set()
        t.join(10)  # ...which ends first, inside mine
        warnings.warn("the job's warning", UserWarning)
    assert [str(w.message) for w in mine] == ["the job's warning"]
    assert other == [[]]


def test_a_block_on_another_thread_does_not_capture_this_threads_warnings():
    entered, leave, other = threading.Event(), threading.Event(), []
    with warnings.catch_warnings(record=True) as outside:  # no captured() on this thread
        warnings.simplefilter("always")
        t = _in_thread(entered, leave, other)  # installs the dispatcher over this block's hook
        try:
            assert entered.wait(10)
            warnings.warn("not the decoder's", UserWarning)
        finally:
            leave.set()
            t.join(10)
    assert other == [[]]
    assert [str(w.message) for w in outside] == ["not the decoder's"]


def test_blocks_nest_and_reraise_hands_warnings_outwards():
    with captured() as outer:
        with captured() as inner:
            warnings.warn("kept", UserWarning)
            warnings.warn("dropped", RuntimeWarning)
        reraise([w for w in inner if w.category is UserWarning])
    assert [str(w.message) for w in inner] == ["kept", "dropped"]
    assert [(str(w.message), w.category) for w in outer] == [("kept", UserWarning)]
