"""impl.optim.lr_scheduler against torch.optim.lr_scheduler: the rates of every parameter group,
bit for bit, over three periods (past T_max, through the cosine's trough and back up)."""

import pytest

import impl

torch = pytest.importorskip("torch")

T_MAX = 7
SCHEDULERS = {
    "StepLR": dict(step_size=3, gamma=0.7),
    "CosineAnnealingLR": dict(T_max=T_MAX, eta_min=0.001),
    "CosineAnnealingLR-eta0": dict(T_max=T_MAX),
}


def _pair(name, lrs=(0.1, 0.037)):
    """An impl and a torch SGD with one parameter group per rate in ``lrs``, each wrapped in
    the scheduler ``name``."""
    cls = name.split("-")[0]
    ours = impl.optim.SGD([{"params": [impl.nn.Parameter(impl.ones(1))], "lr": lr}
                           for lr in lrs], lr=1.0, momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.ones(1))], "lr": lr}
                              for lr in lrs], lr=1.0, momentum=0.9)
    return (ours, getattr(impl.optim.lr_scheduler, cls)(ours, **SCHEDULERS[name]),
            theirs, getattr(torch.optim.lr_scheduler, cls)(theirs, **SCHEDULERS[name]))


@pytest.mark.parametrize("name", SCHEDULERS)
def test_rates_equal_torch_bit_for_bit(name):
    ours, sched, theirs, ref = _pair(name)
    for epoch in range(3 * T_MAX + 1):
        assert sched.last_epoch == ref.last_epoch == epoch
        assert sched.get_last_lr() == ref.get_last_lr(), f"epoch {epoch}"
        assert ([g["lr"] for g in ours.param_groups]
                == [g["lr"] for g in theirs.param_groups]), f"epoch {epoch}"
        ours.step(), theirs.step()
        sched.step(), ref.step()


def test_cosine_follows_the_closed_form():
    _, sched, _, _ = _pair("CosineAnnealingLR", lrs=(0.1,))
    rates = []
    for _ in range(2 * T_MAX + 1):
        rates.append(sched.get_last_lr()[0])
        sched.step()
    assert rates[0] == 0.1
    assert rates[T_MAX] == pytest.approx(0.001, abs=1e-15)
    assert rates[2 * T_MAX] == pytest.approx(0.1, rel=1e-14)


def test_resume_from_state_dict_continues_the_schedule():
    ours, sched, theirs, ref = _pair("CosineAnnealingLR")
    for _ in range(T_MAX + 3):
        ours.step(), theirs.step()
        sched.step(), ref.step()
    state = sched.state_dict()
    assert "optimizer" not in state
    resumed = impl.optim.lr_scheduler.CosineAnnealingLR(ours, T_MAX, last_epoch=sched.last_epoch)
    resumed.load_state_dict(state)
    for _ in range(T_MAX):
        resumed.step(), ref.step()
        assert resumed.get_last_lr() == ref.get_last_lr()
