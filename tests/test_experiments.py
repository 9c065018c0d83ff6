"""Class experiments and the class board's data (engine side, no Streamlit): hostile input, balanced and stable
assignment, closing, persistence, and what a student's view of the board may hold. The pages: test_class_board.py."""

from __future__ import annotations

import json
import threading

import pytest

from engine.core.presets import preset
from engine.core.store import Store
from engine.jobs.board import class_board, experiment_curve, remember_name, tension
from engine.jobs.classroom import Policy
from engine.jobs.experiments import MAX_VALUES, ExperimentError, Experiments, parse_values
from engine.jobs.identity import INSTRUCTOR, User

PROF = User("email:prof@uni.edu", INSTRUCTOR)
ALICE, BOB = User("email:alice@uni.edu"), User("oidc:https://idp#b-2")
BETAS = "0, 0.5, 1, 2, 4, 8, 16"


@pytest.fixture
def root(tmp_path):
    return Store(tmp_path / "checkpoints").root


def post(root, values=BETAS, **kw):
    args = {"title": "β sweep", "preset_name": "seed-vae", "setting": "beta", "values": values, "epochs": 10, **kw}
    return Experiments(root).post(PROF, **args)


# β values, then the other settings
BAD_BETAS = [
    ("0, 1, 2000", "β = 2000 is out of range: use values from 0 to 1000"),
    ("-1, 1", "β = -1 is out of range"),
    ("nan, 1", "β = nan is out of range"),
    ("inf, 1", "β = inf is out of range"),
    ("0, one, 2", "'one' is not a number"),
    ("1, 1", "a value is listed twice"),
    ("4", "a sweep needs at least 2 values"),
    ("", "a sweep needs at least 2 values"),
    (", ".join(str(i) for i in range(17)), f"17 values is too many for one sweep: give at most {MAX_VALUES}"),
    ("1," * 5000, "characters long (at most 400)"),
    (list(range(10**6)), "1,000,000 values is too many"),
    ([True, 2], "'True' is not a number"),
    ({"a": 1}, "the values must be a list of numbers"),
]
BAD_OTHERS = [
    ("2, 2.5, 4", "latent_dim", "latent size takes whole numbers, got 2.5"),
    ("0, 300", "latent_dim", "latent size = 0 is out of range: use values from 1 to 256"),
    ("1, 2", "hidden", "'hidden' cannot be swept: choose one of beta, latent_dim, lr, seed"),
    ("1, 2", "../../etc", "'../../etc' cannot be swept"),
]


@pytest.mark.parametrize("raw, setting, msg", [(r, "beta", m) for r, m in BAD_BETAS] + BAD_OTHERS)
def test_hostile_values_get_one_line(raw, setting, msg):
    with pytest.raises(ExperimentError) as e:
        parse_values(raw, setting)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_values_are_read_from_text_or_a_list_and_sorted():
    assert parse_values("16 ; 0,0.5\t1", "beta") == [0, 0.5, 1, 16]
    assert parse_values([32, 2, 8], "latent_dim") == [2, 8, 32]
    assert all(isinstance(v, int) for v in parse_values("2, 4.0", "latent_dim"))


@pytest.mark.parametrize("kw, msg", [
    ({"title": "  "}, "give the experiment a title of 1 to 120 characters"),
    ({"title": "x" * 500}, "a title of 1 to 120 characters"),
    ({"title": ["not", "text"]}, "a title"),
    ({"preset_name": "rm -rf"}, "unknown preset 'rm -rf': choose one of"),
    ({"preset_name": "seed-mlp-ae"}, "seed-mlp-ae is an autoencoder without a KL term, so β does nothing"),
    ({"epochs": 0}, "epochs: Input should be greater than or equal to 1"),
    ({"epochs": 31}, "31 epochs is over this class's limit of 30"),
    ({"epochs": "ten"}, "epochs: Input should be a valid integer"),
    ({"train_limit": -5}, "train_limit: Input should be greater than or equal to 1"),
])
def test_hostile_posts_get_one_line(root, kw, msg):
    with pytest.raises(ExperimentError) as e:
        post(root, **kw)
    assert msg in str(e.value) and "\n" not in str(e.value)
    assert Experiments(root).all() == []


def test_a_sweep_over_the_class_limits_is_refused_before_anyone_is_assigned(root):
    Policy(max_params=100_000).save(root)
    with pytest.raises(ExperimentError, match=r"with latent size = 2 the model has [\d,]+ parameters, over the class"):
        post(root, setting="latent_dim", values="2, 32")
    Policy(datasets=["fashion-mnist"]).save(root)
    with pytest.raises(ExperimentError, match="dataset 'mnist' is not enabled for this class"):
        post(root)


def test_only_instructors_post_and_close_and_one_experiment_is_open_at_a_time(root):
    with pytest.raises(ExperimentError, match="only an instructor can post"):
        Experiments(root).post(ALICE, "mine", "seed-vae", "beta", "0, 1", 10)
    exp = post(root)
    with pytest.raises(ExperimentError, match="an experiment is open already: close it before posting the next one"):
        post(root, setting="latent_dim", values="2, 32")
    with pytest.raises(ExperimentError, match="only an instructor can close"):
        Experiments(root).close(ALICE, exp.id)
    for bad in ("x00000000", "../x", None, 7):
        with pytest.raises(ExperimentError, match="no experiment"):
            Experiments(root).close(PROF, bad)
    Experiments(root).close(PROF, exp.id)
    assert post(root, setting="latent_dim", values="2, 4, 8, 16, 32").id != exp.id


def test_assignment_is_balanced_least_assigned_first_and_stable_on_reload(root):
    exp = post(root)
    students = [User(f"email:s{i}@uni.edu") for i in range(16)]
    got = [Experiments(root).assign(s, exp.id) for s in students]
    assert got == [0, 1, 2, 3, 4, 5, 6] * 2 + [0, 1]  # the value fewest have; ties: the first in the sweep
    assert Experiments(root).get(exp.id).counts() == [3, 3, 2, 2, 2, 2, 2]
    for s, first in zip(students, got, strict=True):  # reloading: a fresh object, the same value
        assert Experiments(root).assign(s, exp.id) == first == Experiments(root).assigned(s, exp.id)
    assert Experiments(root).get(exp.id).counts() == [3, 3, 2, 2, 2, 2, 2]
    with pytest.raises(ExperimentError, match="instructors are not assigned a value"):
        Experiments(root).assign(PROF, exp.id)


def test_students_assigned_at_the_same_moment_stay_balanced(root):
    exp = post(root, values="1, 2, 4, 8")
    students = [User(f"email:t{i}@uni.edu") for i in range(12)]
    threads = [threading.Thread(target=Experiments(root).assign, args=(s, exp.id)) for s in students]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Experiments(root).get(exp.id).counts() == [3, 3, 3, 3]


def test_a_run_joins_only_as_its_owners_assigned_value_and_a_closed_experiment_takes_none(root):
    exp = post(root, values="0, 1, 4")
    a = Experiments(root).assign(ALICE, exp.id)
    ids = exp.run_ids()
    assert exp.config(a).run_id() == ids[a] and exp.config(a).beta == 0.0 and exp.config(a).epochs == 10
    with pytest.raises(ExperimentError, match="you have no value in this experiment yet"):
        Experiments(root).record(BOB, exp.id, ids[0])
    with pytest.raises(ExperimentError, match=r"this run is not your class experiment's \(β = 0\)"):
        Experiments(root).record(ALICE, exp.id, ids[1])
    assert Experiments(root).record(ALICE, exp.id, ids[a]) == a
    Experiments(root).record(ALICE, exp.id, ids[a])  # twice: recorded once
    assert Experiments(root).record(PROF, exp.id, ids[2]) == 2  # an instructor trains any value
    with pytest.raises(ExperimentError, match="none of the experiment's values"):
        Experiments(root).record(PROF, exp.id, preset("seed-vae", seed=5).run_id())
    b = Experiments(root).assign(BOB, exp.id)
    Experiments(root).close(PROF, exp.id)
    before = Experiments(root).get(exp.id).runs
    assert len(before) == 2
    with pytest.raises(ExperimentError, match="is closed: it takes no new runs"):
        Experiments(root).record(BOB, exp.id, ids[b])
    with pytest.raises(ExperimentError, match="is closed: it takes no new students"):
        Experiments(root).assign(User("email:late@uni.edu"), exp.id)
    assert Experiments(root).assign(BOB, exp.id) == b  # given before closing: still readable
    assert Experiments(root).get(exp.id).runs == before and Experiments(root).current() is None


def test_the_experiment_is_stored_with_the_runs_and_a_restart_keeps_it(root):
    exp = post(root)
    Experiments(root).assign(ALICE, exp.id)
    saved = json.loads((root / "experiments.json").read_text())
    assert saved["experiments"][0]["assigned"] == {ALICE.name: 0}
    assert not list(root.glob(".experiments.json.*"))  # written atomically: no temp file left
    again = Experiments(Store(root).root)  # another process, after a restart
    assert again.current() == Experiments(root).get(exp.id) and again.assign(ALICE, exp.id) == 0
    (root / "experiments.json").write_text('{"experiments": [{"id": "../../x"}]}')
    with pytest.raises(ExperimentError) as e:
        Experiments(root).current()
    assert "experiments.json in the checkpoint folder is damaged" in str(e.value) and "\n" not in str(e.value)


# ---- the board's data -------------------------------------------------------------------------------------

def _fake_run(store: Store, cfg, owners: list[str], recon: float, kl: float) -> str:
    rid = cfg.run_id()
    store.set_meta(rid, config=cfg.model_dump(mode="json"), status="completed", epochs=cfg.epochs,
                   epochs_done=cfg.epochs, heldout={"recon": recon, "kl": kl, "mse01": 20.0, "loss": recon + kl})
    store.index.set(f"class:{rid}", {"owners": owners, "starter": owners[0] if owners else None})
    return rid


def test_a_students_board_holds_no_other_students_identity_run_id_or_path(root):
    s = Store(root)
    exp = post(root, values="0, 4")
    a, b = Experiments(root).assign(ALICE, exp.id), Experiments(root).assign(BOB, exp.id)
    ra = _fake_run(s, exp.config(a), [ALICE.name], 90.0, 30.0)
    rb = _fake_run(s, exp.config(b), [BOB.name], 120.0, 8.0)
    up = _fake_run(s, preset("seed-vae", dataset="synthetic", seed=9), [BOB.name], 50.0, 5.0)
    s.set_meta(up, config={**s.meta(up)["config"], "dataset": "upload-0123456789ab", "name": "bobs-secret"})
    for who, rid in ((ALICE, ra), (BOB, rb)):
        Experiments(root).record(who, exp.id, rid)
    exp = Experiments(root).get(exp.id)

    prof = class_board(s, PROF, experiment=exp)
    assert {r["run id"] for r in prof} == {ra, rb, up}
    assert {r["students"] for r in prof} == {"alice@uni.edu", BOB.name}
    remember_name(s, BOB.name, "Bob\u202e\n" + "b" * 100)  # what a provider sends: shown printable and short
    prof = class_board(s, PROF, experiment=exp)
    assert {r["students"] for r in prof} == {"alice@uni.edu", f"Bob{'b' * 57} ({BOB.name})"}
    assert {r["experiment"] for r in prof} == {"β = 0", "β = 4", None}

    mine = class_board(s, ALICE, experiment=exp)
    text = json.dumps(mine)
    for secret in (BOB.name, "b-2", "Bob", rb, rb[:6], up[:6], "0123456789ab", "bobs-secret", str(root),
                   "checkpoints"):
        assert secret not in text
    assert ALICE.name not in text and ra not in text  # not even one's own id: the board opens nothing
    assert [r["mine"] for r in mine].count(True) == 1
    assert next(r for r in mine if r["mine"])["β"] == 0.0
    assert {r["dataset"] for r in mine} == {"mnist", "uploaded data"}
    assert len(mine) == 3 and all("run id" not in r and "students" not in r for r in mine)


def test_the_curve_fills_in_and_says_how_it_bears_out_the_beta_tension(root):
    s = Store(root)
    exp = post(root, values="0, 1, 4")
    students = [User(f"email:c{i}@uni.edu") for i in range(4)]
    idx = [Experiments(root).assign(u, exp.id) for u in students]
    curve = experiment_curve(s, Experiments(root).get(exp.id))
    assert [p["students"] for p in curve] == [2, 1, 1] and all(p["recon"] is None for p in curve)
    assert {p["status"] for p in curve} == {"not launched"}
    for u, i, (recon, kl) in zip(students[:3], idx[:3], [(80.0, 40.0), (95.0, 25.0), (130.0, 9.0)], strict=True):
        _fake_run(s, exp.config(i), [u.name], recon, kl)
        Experiments(root).record(u, exp.id, exp.config(i).run_id())
    curve = experiment_curve(s, Experiments(root).get(exp.id))
    assert [(p["label"], p["launched"], p["kl"]) for p in curve] == [("β = 0", 1, 40.0), ("β = 1", 1, 25.0),
                                                                   ("β = 4", 1, 9.0)]
    assert "email:" not in json.dumps(curve) and exp.run_ids()[0] not in json.dumps(curve)
    assert tension(curve) == {"points": 3, "steps": 2, "kl_down": 2, "recon_up": 2}
    curve[2]["recon"] = 70.0  # a point against the claim counts against it
    assert tension(curve)["recon_up"] == 1
