import io

from tqdm.auto import tqdm

from sgm.progress import LineProgress, progress_bar


class Clock:
    """A stand-in for time.monotonic that the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_work_shorter_than_the_interval_prints_nothing_to_a_log():
    log = io.StringIO()
    for _ in progress_bar(range(50), desc="short", file=log, interval=30):
        pass
    assert log.getvalue() == ""


def test_long_work_prints_one_line_per_interval_and_a_last_line(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("sgm.progress.time.monotonic", clock)
    log = io.StringIO()
    bar = progress_bar(total=100, desc="train@p", unit="step", initial=20, file=log, interval=30)
    assert isinstance(bar, LineProgress)
    for step in range(21, 101):
        clock.now += 1.0  # one step a second: 80 seconds in all
        bar.update()
        if step == 40:
            bar.set_postfix_str("epoch 1/2, loss 0.5")
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 3  # after 30 s, 60 s, and when done
    assert lines[0].startswith("train@p:  50%|") and "50/100" in lines[0] and "1.00step/s" in lines[0]
    assert "[00:30<00:50" in lines[0] and lines[0].endswith("epoch 1/2, loss 0.5]")
    assert "100/100 [01:20<00:00" in lines[2]


def test_a_terminal_gets_a_tqdm_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = progress_bar(total=3, desc="x", file=Terminal())
    assert isinstance(bar, tqdm)
    bar.close()
