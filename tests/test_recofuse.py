"""ReCoFuse plugin: IR-SDE closed forms, architecture sizes, one training step, checkpoints, fuse()."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchbed_recofuse.configs import CONFIGS, PARAM_COUNTS, SDEConfig, with_train  # noqa: E402
from benchbed_recofuse.sde import IRSDE  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    # The CI machine has few cores; oversubscribed threads make these tests slow, not faster.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --- IR-SDE --------------------------------------------------------------------------------------


def test_sde_schedule_matches_published_constants():
    sde = IRSDE(SDEConfig())
    assert sde.dt == pytest.approx(0.10409, abs=2e-5)  # -ln(0.005) / bar_theta_T
    assert float(sde.sigma_bars[100]) == pytest.approx(50 / 255, rel=1e-3)
    assert float(sde.sigma_bars[1]) == pytest.approx(0.0037, abs=2e-4)
    assert float(sde.sigmas[1]) == pytest.approx(0.0114, abs=3e-4)
    assert float(sde.sigmas[100]) == pytest.approx(0.2773, abs=3e-4)
    assert float(sde.decay(100)) == pytest.approx(0.005, rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("t", [10, 50, 100])
def test_sde_forward_marginal_matches_closed_form(t):
    """Monte Carlo of dz = theta (mu - z) dt + sigma dw vs mean mu + (z0 - mu) e^-.. and var sigma_bar^2."""
    sde = IRSDE(SDEConfig())
    gen = torch.Generator().manual_seed(t)
    n, sub = 40_000, 20
    z0, mu = 0.8, -0.3
    z = torch.full((n,), z0, dtype=torch.float64)
    h = sde.dt / sub
    for i in range(1, t + 1):
        # Fine Euler-Maruyama sub-steps inside each step, where theta_i is constant.
        th, sig = float(sde.thetas[i]), float(sde.sigmas[i])
        for _ in range(sub):
            dw = math.sqrt(h) * torch.randn(n, generator=gen, dtype=torch.float64)
            z = z + th * (mu - z) * h + sig * dw
    mean_f = float(sde.marginal_mean(torch.tensor(z0), torch.tensor(mu), t))
    var_f = float(sde.sigma_bar(t)) ** 2
    se_mean = math.sqrt(var_f / n)
    assert float(z.mean()) == pytest.approx(mean_f, abs=5 * se_mean + 2e-3 * abs(z0 - mu))
    assert float(z.var()) == pytest.approx(var_f, rel=0.03)


def test_sde_sample_marginal_and_bridge_are_consistent():
    """z_t sampled in closed form has the formula's moments; posterior at s = t-1 is IR-SDE's optimum."""
    sde = IRSDE(SDEConfig())
    gen = torch.Generator().manual_seed(0)
    x0, mu = torch.full((50_000,), 0.5), torch.full((50_000,), 0.1)
    t = torch.full((50_000,), 40, dtype=torch.long)
    zt = sde.sample_marginal(x0[:, None, None, None], mu[:, None, None, None], t,
                             torch.randn(50_000, 1, 1, 1, generator=gen)).flatten()
    assert float(zt.mean()) == pytest.approx(float(sde.marginal_mean(x0[:1], mu[:1], 40)), abs=3e-3)
    assert float(zt.std()) == pytest.approx(float(sde.sigma_bar(40)), rel=0.02)
    # optimum step = published A, B, C formula
    th, cum, dt = sde.thetas, sde.thetas_cumsum, sde.dt
    a, b, c = (torch.exp(-th[40] * dt), torch.exp(-cum[40] * dt), torch.exp(-cum[39] * dt))
    xt, z0, m = torch.tensor(0.3), torch.tensor(0.5), torch.tensor(0.1)
    ref = a * (1 - c**2) / (1 - b**2) * (xt - m) + c * (1 - a**2) / (1 - b**2) * (z0 - m) + m
    assert float(sde.optimum_step(xt, z0, m, 40)) == pytest.approx(float(ref), abs=1e-6)
    # With the true noise, x0_from_noise inverts the marginal exactly.
    eps = torch.tensor(0.7)
    z = sde.sample_marginal(z0, m, 40, eps)
    assert float(sde.x0_from_noise(z, m, eps, 40)) == pytest.approx(0.5, abs=1e-4)
    assert float(sde.posterior_std(40, 0)) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("steps", [100, 10])
def test_reverse_sampler_with_oracle_noise_recovers_x0(steps):
    """With the true eps = (z - E[z_t | x0]) / sigma_bar, both samplers land on x0 from mu + noise."""
    sde = IRSDE(SDEConfig())
    g = torch.Generator().manual_seed(steps)
    x0 = 0.25 * torch.randn(1, 8, 12, 16, generator=g)
    mu = x0 + 0.2 * torch.randn(x0.shape, generator=g)
    z = mu + sde.max_sigma * torch.randn(x0.shape, generator=g)
    ts = sde.timesteps(steps)
    for t, s in zip(ts, [*ts[1:], 0]):
        eps = (z - sde.marginal_mean(x0, mu, t)) / sde.sigma_bar(t)
        noise = torch.randn(z.shape, generator=g)
        z = (sde.reverse_sde_step(z, mu, eps, t, noise) if s == t - 1
             else sde.posterior_step(z, mu, eps, t, s, noise))
    assert float((z - x0).abs().mean()) < 0.01 < float((mu - x0).abs().mean())


def test_jump_sampler_x0_clip_bounds_an_erroneous_prediction():
    """Near T the implied z_0 divides by ~eps: a 1% noise error explodes unless clamped."""
    sde = IRSDE(SDEConfig())
    g = torch.Generator().manual_seed(0)
    x0 = 0.2 * torch.randn(1, 4, 8, 8, generator=g)
    mu = torch.zeros_like(x0)
    t, s = sde.T, sde.T - 20
    z = sde.sample_marginal(x0, mu, t, torch.randn(x0.shape, generator=g))
    eps0 = (z - sde.marginal_mean(x0, mu, t)) / sde.sigma_bar(t)
    eps = eps0 + 0.01  # slightly wrong
    assert float((sde.x0_from_noise(z, mu, eps, t) - x0).abs().min()) > 0.3  # 0.01 -> > 0.3
    clipped = sde.posterior_step(z, mu, eps, t, s, None, x0_limit=0.6)
    x0_hat = sde.x0_from_noise(z, mu, eps, t).clamp(-0.6, 0.6)
    torch.testing.assert_close(clipped, sde.posterior_mean(z, x0_hat, mu, t, s))
    # a correct prediction inside the bound is not changed
    torch.testing.assert_close(sde.posterior_step(z, mu, eps0, t, s, None, x0_limit=10.0),
                               sde.posterior_step(z, mu, eps0, t, s, None))


def test_sde_timesteps():
    sde = IRSDE(SDEConfig())
    assert sde.timesteps(100) == list(range(100, 0, -1))
    ts = sde.timesteps(10)
    assert ts[0] == 100 and ts[-1] == 1 and len(ts) == 10 and ts == sorted(ts, reverse=True)
    assert sde.timesteps(1) == [100]


# --- architecture --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["small", "gated", "gated-x0", "gated-x0-cond", "paper"])
def test_param_counts_match_the_table(name):
    from benchbed_recofuse.autoencoder import FusionAutoencoder
    from benchbed_recofuse.dim import ConditionalNAFNet
    from benchbed_recofuse.tim import TIM

    cfg = CONFIGS[name]
    with torch.device("meta"):  # no memory for the 155 M paper parameters
        parts = {"ae": FusionAutoencoder(cfg.ae), "dim_vis": ConditionalNAFNet(cfg.dim),
                 "dim_ir": ConditionalNAFNet(cfg.dim), "tim": TIM(cfg.tim)}
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    counts["total"] = sum(counts.values())
    assert counts == PARAM_COUNTS[name]


def test_shapes_through_the_networks():
    from benchbed_recofuse.model import ReCoFuse

    m = ReCoFuse(CONFIGS["small"]).eval()
    x = torch.rand(2, 1, 50, 70)
    z, h = m.ae.encode(x)
    assert z.shape == (2, 8, 8, 10) and len(h) == 9  # reflect-padded to 64x80, latent at /8
    assert m.ae.decode(z, h, (50, 70)).shape == x.shape
    assert m.dim_vis(z, z, torch.tensor([3, 7])).shape == z.shape
    assert m.tim(z, z, 5).shape == z.shape
    out = m.sample(x[:1], x[1:], steps=3, generator=torch.Generator().manual_seed(0))
    assert out.fused.shape == out.vis.shape == out.ir.shape == (1, 1, 50, 70)


def _coupling_probe(config):
    """A model of ``config``, a 4-step sampler of one VIS image with a given IR image and
    coupling, and two different IR images."""
    from benchbed_recofuse.model import ReCoFuse

    torch.manual_seed(0)
    m = ReCoFuse(CONFIGS[config]).eval()
    vis, ir, ir2 = torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32)

    def run(other, coupled):
        return m.sample(vis, other, steps=4, generator=torch.Generator().manual_seed(1),
                        coupled=coupled)

    return m, run, ir, ir2


def test_uncoupled_ablation_restores_each_branch_from_its_own_source_only():
    # recofuse-uncoupled (Model-I ablation): without TIM in the loop the VIS branch cannot see
    # the IR source; coupled, it does.
    _, run, ir, ir2 = _coupling_probe("small")
    assert torch.equal(run(ir, False).vis, run(ir2, False).vis)
    assert not torch.equal(run(ir, True).vis, run(ir2, True).vis)
    assert not torch.equal(run(ir, True).fused, run(ir, False).fused)


def test_tim_cross_attention_full_or_on_the_pooled_token_grid():
    # attn_pool = 1 is the published full softmax attention over every latent token (reference
    # recofuse.md section 5); attn_pool = 2 (gated-x0, latent at H/4) attends the H/8 grid.
    from benchbed_recofuse.tim import CrossAttention

    torch.manual_seed(0)
    full, pooled = CrossAttention(8), CrossAttention(8, pool=2)
    pooled.load_state_dict(full.state_dict())
    a, b = torch.randn(1, 8, 6, 10), torch.randn(1, 8, 6, 10)
    q = full.q(a).flatten(2)[0].T
    k, v = full.k(b).flatten(2)[0].T, full.v(b).flatten(2)[0].T
    ref = (torch.softmax(q @ k.T / math.sqrt(8), dim=1) @ v).T.reshape(1, 8, 6, 10) + a
    with torch.no_grad():
        assert torch.allclose(full(a, b), ref, atol=1e-5)
        # Latents constant over each 2x2 block: every pooled token stands for 4 identical ones,
        # so the attention weights and values are those of the full attention; only the
        # bilinear upsampling of the attended values differs from a block copy.
        up = torch.nn.functional.interpolate
        a2, b2 = up(a[..., :3, :5], scale_factor=2), up(b[..., :3, :5], scale_factor=2)
        small = full(a[..., :3, :5], b[..., :3, :5]) - a[..., :3, :5]
        want = up(small, size=(6, 10), mode="bilinear", align_corners=False) + a2
        assert torch.allclose(pooled(a2, b2), want, atol=1e-5)
        assert not torch.allclose(full(a2, b2), pooled(a2, b2), atol=1e-3)
    with pytest.raises(ValueError, match="attn_pool"):
        CrossAttention(8, pool=0)


def test_checkpoints_from_before_attn_pool_load_with_full_attention(tmp_path):
    from benchbed_recofuse.model import ReCoFuse, load_weights, save_weights

    path = save_weights(ReCoFuse(CONFIGS["small"]), tmp_path / "w.pt")
    payload = torch.load(path, weights_only=True)
    del payload["arch"]["tim"]["attn_pool"]
    torch.save(payload, path)
    assert load_weights(path).tim.cross_vis.pool == 1
    assert CONFIGS["gated-x0"].tim.attn_pool == 2


def test_convex_tim_and_eps_skip_keep_an_untrained_sampler_bounded():
    """small = convex TIM + eps_skip: the coupled reverse process contracts towards the LQ latents."""
    from benchbed_recofuse.model import ReCoFuse

    torch.manual_seed(0)
    m = ReCoFuse(CONFIGS["small"]).eval()
    assert CONFIGS["small"].tim.convex and CONFIGS["small"].dim.eps_skip
    assert not CONFIGS["paper"].tim.convex and not CONFIGS["paper"].dim.eps_skip  # as published
    z = torch.randn(1, 8, 16, 16)
    w_ir, w_vis = m.tim.weights(z, z.flip(1), 50)
    assert torch.allclose(w_ir + w_vis, torch.ones_like(w_ir), atol=1e-6)
    g = torch.Generator().manual_seed(0)
    mu_v, mu_i = 0.3 * torch.randn(1, 8, 16, 16, generator=g), 0.3 * torch.randn(1, 8, 16, 16, generator=g)
    z_v, z_i = mu_v + m.sde.max_sigma * torch.randn(mu_v.shape, generator=g), mu_i.clone()
    with torch.no_grad():
        for t in range(100, 0, -1):
            z_v, z_i = m.couple_step(z_v, z_i, mu_v, mu_i, t, t - 1, None)
    assert float((z_v - mu_v).abs().mean()) < 1.0 and torch.isfinite(z_v).all()


# --- training ------------------------------------------------------------------------------------


def _trainer(plan, seed=0, config="small"):
    from benchbed_recofuse.data import BatchMaker, CleanPair
    from benchbed_recofuse.synth import DegradationSampler
    from benchbed_recofuse.train import Trainer

    rng = np.random.default_rng(1)
    pairs = [CleanPair(f"p{i}", rng.random((40, 48), dtype=np.float32),
                       rng.random((40, 48, 3), dtype=np.float32)) for i in range(2)]
    cfg = with_train(CONFIGS[config], ae_batch=2, ae_crop=32, batch=2, crop=32)
    return Trainer(cfg, plan, BatchMaker(pairs, DegradationSampler()), "cpu", seed, amp=False)


@pytest.mark.parametrize("config", ["small", "gated", "gated-x0", "gated-x0-cond"])
def test_one_training_step_per_stage_runs_and_updates(config):  # matching / eps / x0 loss
    tr = _trainer({"ae": 1, "dim": 1, "joint": 1}, config=config)
    before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    seen = []
    while (losses := tr.advance()) is not None:
        seen.append(tr.stage)
        assert all(math.isfinite(v) for v in losses.values())
    assert seen == ["ae", "dim", "joint"]
    after = tr.model.state_dict()
    for prefix in ("ae.", "dim_vis.", "dim_ir.", "tim."):
        assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith(prefix)), prefix


def test_a_finished_run_goes_on_with_a_longer_stage_or_its_joint_stage(tmp_path):
    # a run that ended (stage 'done') is given more branch steps, or its joint stage, later
    from benchbed.errors import BenchbedError

    a = _trainer({"ae": 1, "dim": 2, "joint": 0}, config="gated")
    while a.advance() is not None:
        pass
    a.export(tmp_path / "done.pt", seed=0)
    assert a.progress()["stage"] == "done"
    joint = _trainer({"ae": 1, "dim": 2, "joint": 2}, config="gated")
    joint.start_from(tmp_path / "done.pt", seed=0)
    assert (joint.stage, joint.k) == ("joint", 0) and "tim" in joint.opts
    z = torch.randn(1, 8, 4, 4)
    with torch.no_grad():  # entering the joint stage set TIM to the equal blend
        torch.testing.assert_close(joint.model.tim(z, -z, 3), torch.zeros_like(z))
    longer = _trainer({"ae": 1, "dim": 5, "joint": 0}, config="gated")
    longer.start_from(tmp_path / "done.pt", seed=0)
    assert (longer.stage, longer.k) == ("dim", 2)
    joint.advance()
    joint.export(tmp_path / "joint.pt", seed=0)
    with pytest.raises(BenchbedError, match="dim stage cannot be extended"):
        _trainer({"ae": 1, "dim": 5, "joint": 2}, config="gated").start_from(tmp_path / "joint.pt", 0)
    with pytest.raises(BenchbedError, match="ae stage cannot be extended"):
        _trainer({"ae": 3, "dim": 2, "joint": 0}, config="gated").start_from(tmp_path / "done.pt", 0)


def test_weights_exported_at_the_end_of_the_ae_stage_still_calibrate_the_latent(tmp_path):
    # the checkpoint export right after the last AE step records (ae, plan); going on from it
    # must run the stage transition (latent calibration) exactly as an uninterrupted run does
    plan = {"ae": 1, "dim": 1, "joint": 0}
    a = _trainer(plan)
    a.advance()
    assert (a.stage, a.k) == ("ae", 1)
    a.export(tmp_path / "ae.pt", seed=0)
    b = _trainer(plan)
    b.start_from(tmp_path / "ae.pt", seed=0)
    assert (b.stage, b.k) == ("ae", 1)
    b.advance()
    assert b.stage == "dim" and float(b.model.ae.latent_scale) != 1.0
    a.advance()
    assert float(b.model.ae.latent_scale) == pytest.approx(float(a.model.ae.latent_scale), rel=0.2)


def test_joint_stage_starts_tim_as_an_equal_blend_and_grows_t_from_small():
    # issue 19, gate 3: "TIM initialised to an equal blend, a curriculum from small t"
    torch.manual_seed(0)
    z_v, z_i = torch.randn(2, 8, 4, 6), torch.randn(2, 8, 4, 6)
    tr = _trainer({"ae": 0, "dim": 0, "joint": 10}, config="gated")
    with torch.no_grad():
        far = float((tr.model.tim(z_v, z_i, 7) - (z_v + z_i) / 2).abs().max())
    assert far > 0.05  # PyTorch's default init is not the blend
    tr.advance()  # enters the joint stage (TIM reset to the blend), then one Lion step
    with torch.no_grad():
        near = float((tr.model.tim(z_v, z_i, 7) - (z_v + z_i) / 2).abs().max())
    assert near < far / 5
    tr.model.tim.init_equal_blend()
    with torch.no_grad():
        for t in (0, 7, 20):
            torch.testing.assert_close(tr.model.tim(z_v, z_i, t), (z_v + z_i) / 2)
    # the curriculum over the first half of the 10 joint steps, then every t up to T = 20
    seen = []
    for k in range(10):
        tr.k = k
        seen.append(tr.joint_t_max())
    assert seen[0] == 1 and seen == sorted(seen) and seen[5:] == [20] * 5 and seen[4] < 20
    small = _trainer({"ae": 0, "dim": 0, "joint": 10}, config="small")
    assert small.joint_t_max() == small.model.sde.T  # the published stage: no curriculum


def test_bad_training_settings_are_refused():
    from benchbed_recofuse.train import train

    from benchbed.errors import BenchbedError

    with pytest.raises(ValueError, match="tim_init"):
        with_train(CONFIGS["gated"], tim_init="blend")
    with pytest.raises(BenchbedError, match="joint_curriculum"):
        train("gated", steps=1, joint_curriculum=2.0)
    with pytest.raises(BenchbedError, match="recipes"):
        train("gated", steps=1, recipes="v9")
    with pytest.raises(BenchbedError, match="tone_jitter"):
        train("gated", steps=1, tone_jitter=1.5)


def test_v2_recipes_add_the_mild_vis_contrast_case_and_more_clean_inputs():
    # shared/reference/degradations.md R3: VIS noise "sometimes combined with ... a mild contrast
    # change (LQ ~ 0.70 HQ + 14/255)"; v1 had no such case.
    from benchbed_recofuse.synth import DegradationSampler

    x = np.linspace(0.0, 1.0, 64 * 64 * 3, dtype=np.float32).reshape(64, 64, 3)
    rng = np.random.default_rng(0)
    v1, v2 = DegradationSampler(recipes="v1"), DegradationSampler(recipes="v2")
    drawn = [v2.degrade(x, "vi", rng) for _ in range(600)]
    fades = [y for y, names in drawn if names == ("vis_fade",)]
    assert fades and "vis_fade" not in v1.backends and v2.backends["vis_fade"] == "internal"
    for y in fades:  # affine with gain 0.55-0.85 and offset 10-50/255, up to 8-bit rounding
        a, b = np.polyfit(x.ravel(), y.ravel(), 1)
        assert 0.55 - 0.01 < a < 0.85 + 0.01 and 10 / 255 - 0.01 < b < 50 / 255 + 0.01
    clean_v1 = sum(names == () for _, names in (v1.degrade(x, "vi", rng) for _ in range(600)))
    clean_v2 = sum(names == () for _, names in drawn)
    assert clean_v2 > clean_v1  # 20 % against 15 %
    with pytest.raises(ValueError, match="recipes"):
        DegradationSampler(recipes="v3")


def test_tone_jitter_moves_the_clean_target_with_the_input():
    from benchbed_recofuse.data import BatchMaker, CleanPair
    from benchbed_recofuse.synth import DegradationSampler

    rng = np.random.default_rng(3)
    pair = CleanPair("p", rng.random((32, 32), dtype=np.float32),
                     rng.random((32, 32, 3), dtype=np.float32))

    class Identity(DegradationSampler):  # no degradation: LQ must equal the (jittered) target
        def degrade(self, x, modality, rng):
            return x, ()

    plain = BatchMaker([pair], Identity(use_plugins=False)).make(8, 32, np.random.default_rng(0))
    jit = BatchMaker([pair], Identity(use_plugins=False), tone=1.0).make(8, 32, np.random.default_rng(0))
    assert torch.equal(jit.vis_lq, jit.vis_gt) and torch.equal(jit.ir_lq, jit.ir_gt)
    # every crop's clean image was re-toned (flips alone keep the sorted values)
    for a, b in zip(plain.ir_gt, jit.ir_gt):
        assert not torch.allclose(torch.sort(a.ravel()).values, torch.sort(b.ravel()).values)
    # off by default and the random stream of earlier runs is unchanged
    again = BatchMaker([pair], Identity(use_plugins=False), tone=0.0).make(8, 32, np.random.default_rng(0))
    assert torch.equal(again.ir_gt, plain.ir_gt)


def test_resume_is_exact(tmp_path):
    a = _trainer({"ae": 2, "dim": 0, "joint": 0})
    a.advance()
    a.save_state(tmp_path / "state.pt")
    a.advance()
    b = _trainer({"ae": 2, "dim": 0, "joint": 0}, seed=99)
    b.load_state(torch.load(tmp_path / "state.pt", weights_only=False))
    b.advance()
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


def test_exported_progress_lets_another_session_go_on(tmp_path):
    # The resumable state (with optimiser moments) is too big to commit; the exported weights
    # carry the stage and step so that training goes on from them in a later session.
    from benchbed.errors import BenchbedError

    a = _trainer({"ae": 1, "dim": 3, "joint": 0})
    for _ in range(3):  # ae 1, dim 1, dim 2
        a.advance()
    a.export(tmp_path / "progress.pt", seed=0)
    b = _trainer({"ae": 1, "dim": 3, "joint": 0}, seed=0)
    b.start_from(tmp_path / "progress.pt", seed=0)
    assert (b.stage, b.k) == ("dim", 2)
    assert not any(p.requires_grad for p in b.model.ae.parameters())  # the AE stays frozen
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    b.advance()
    assert b.advance() is None  # the dim stage ends at the plan's step 3, not 3 more
    a.export(tmp_path / "nothing.pt", seed=0)
    payload = torch.load(tmp_path / "nothing.pt", weights_only=True)
    payload["meta"].pop("progress")
    torch.save(payload, tmp_path / "nothing.pt")
    with pytest.raises(BenchbedError, match="no training progress"):
        _trainer({"ae": 1, "dim": 3, "joint": 0}).start_from(tmp_path / "nothing.pt", seed=0)


def test_trainer_refuses_test_splits():
    from benchbed_recofuse.data import parse_data

    from benchbed.errors import BenchbedError

    assert parse_data(None) == [("msrs", "train"), ("llvip", "train")]
    with pytest.raises(BenchbedError, match="refusing"):
        parse_data("msrs:test")


# --- checkpoints and the fuser -------------------------------------------------------------------


def test_save_and_strict_load_roundtrip(tmp_path):
    from benchbed_recofuse.model import ReCoFuse, load_weights, save_weights

    from benchbed.errors import WeightsError

    m = ReCoFuse(CONFIGS["small"])
    p = save_weights(m, tmp_path / "w.pt")
    loaded = load_weights(p, "small")
    for k, v in m.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    payload = torch.load(p, weights_only=True)
    payload["state_dict"].pop(next(iter(payload["state_dict"])))
    torch.save(payload, tmp_path / "broken.pt")
    with pytest.raises(RuntimeError, match="Missing key"):
        load_weights(tmp_path / "broken.pt")
    with pytest.raises(WeightsError):
        load_weights(p, "paper")


def test_shipped_checkpoint_loads_strictly_with_provenance():
    from benchbed_recofuse.fuser import CHECKPOINTS, resolve_checkpoint
    from benchbed_recofuse.model import load_weights

    from benchbed.weights import file_sha256

    prov_path = CHECKPOINTS / "recofuse-small.json"
    if not prov_path.is_file():
        pytest.skip("no shipped small checkpoint yet")
    prov = json.loads(prov_path.read_text())
    path = resolve_checkpoint("small", "")  # verifies the sha256
    assert file_sha256(path) == prov["sha256"] and path.stat().st_size < 20e6
    for key in ("command", "data", "steps", "train_seconds", "machine", "commit", "validation"):
        assert key in prov
    model = load_weights(path, "small")  # strict=True inside: no missing or unexpected keys
    assert model.param_counts() == PARAM_COUNTS["small"]


def test_fuse_returns_the_clean_shape(tmp_path):
    from benchbed_recofuse.model import ReCoFuse, save_weights

    from benchbed import FusionInputs, Observation
    from benchbed.fusion import fuse_with_policy
    from benchbed.registry import Registry

    ckpt = save_weights(ReCoFuse(CONFIGS["small"]), tmp_path / "w.pt")
    spec = Registry().get("fuser", "recofuse")
    assert spec.degradation_aware and spec.trainer is not None
    fuser = spec.build(checkpoint=str(ckpt), steps=2, edge_pad=8)
    rng = np.random.default_rng(0)
    ir_clean, vi_clean = rng.random((45, 61), dtype=np.float32), rng.random((45, 61, 3), dtype=np.float32)
    ir_lr = ir_clean[::2, ::2].copy()  # a low-resolution IR observation (DRFusion-style)
    obs = (Observation(y=ir_lr, operator=None, clean_shape=ir_clean.shape),
           Observation(y=vi_clean, operator=None, clean_shape=vi_clean.shape))
    fused = fuse_with_policy(spec, fuser, (ir_lr, vi_clean), ("ir", "vi"), (45, 61), obs, "cpu", 3)
    assert fused.shape == (45, 61, 3) and fused.dtype == np.float32
    assert 0.0 <= fused.min() and fused.max() <= 1.0
    direct = fuser.fuse(FusionInputs((ir_lr, vi_clean[..., 0]), ("ir", "vi"), obs, "cpu", 3))
    again = fuser.fuse(FusionInputs((ir_lr, vi_clean[..., 0]), ("ir", "vi"), obs, "cpu", 3))
    assert direct.shape == (45, 61) and np.array_equal(direct, again)  # seeded: reproducible


def test_x0_branch_starts_as_the_linear_mmse_estimate_and_its_eps_is_consistent():
    from benchbed_recofuse.model import ReCoFuse

    m = ReCoFuse(CONFIGS["gated-x0"]).eval()
    for net in (m.dim_vis, m.dim_ir):  # what benchmarks/recofuse_x0_init.py does
        net.ending.weight.data.zero_()
        net.ending.bias.data.zero_()
    g = torch.Generator().manual_seed(0)
    mu = 0.25 * torch.randn(1, 8, 16, 16, generator=g)
    x = mu + 0.1 * torch.randn(1, 8, 16, 16, generator=g)
    sde, v = m.sde, float(m.eps_skip_var)
    with torch.no_grad():
        for t in (1, 7, sde.T):
            d, sb = float(sde.decay(t)), float(sde.sigma_bar(t))
            k = d * v / (d * d * v + sb * sb)  # E[z0 - mu | x - mu] under z0 - mu ~ N(0, v)
            torch.testing.assert_close(m.x0("vis", x, mu, t), mu + k * (x - mu))
            # the noise the sampler and gate 2a see is the one this z0 implies
            torch.testing.assert_close(sde.x0_from_noise(x, mu, m.eps("vis", x, mu, t), t),
                                       m.x0("vis", x, mu, t), rtol=1e-4, atol=1e-5)
        assert float((m.x0("ir", x, mu, sde.T) - mu).abs().max()) < 0.01  # ~mu at t = T
        # the sampler steps through the bridge at the predicted z0: finite, near mu for mu-like x
        zv, _ = m.couple_step(x, x, mu, mu, 3, 2, None, coupled=False)
        expect = sde.posterior_mean(x, m.x0("vis", x, mu, 3), mu, 3, 2)
        torch.testing.assert_close(zv, expect)


def test_x0_loss_needs_the_x0_parameterisation():
    from dataclasses import replace

    with pytest.raises(ValueError, match="x0"):
        replace(CONFIGS["gated"], train=replace(CONFIGS["gated"].train, dim_loss="x0"))
    with pytest.raises(ValueError, match="x0"):
        replace(CONFIGS["gated-x0"], train=replace(CONFIGS["gated-x0"].train, dim_loss="eps"))


def test_weights_written_before_the_parameterisation_field_still_load(tmp_path):
    from benchbed_recofuse.model import ReCoFuse, load_weights, save_weights

    p = save_weights(ReCoFuse(CONFIGS["small"]), tmp_path / "w.pt")
    payload = torch.load(p, weights_only=True)
    del payload["arch"]["dim"]["param"]  # as in files from before DiMConfig.param
    torch.save(payload, p)
    assert load_weights(p).cfg.dim.param == "eps"


# --- the gates of the staged rebuild (issue 19) ---------------------------------------------------


def test_gated_config_has_a_quarter_resolution_latent_and_the_suites_steps():
    from benchbed_recofuse.model import ReCoFuse

    m = ReCoFuse(CONFIGS["gated"]).eval()
    z, _ = m.ae.encode(torch.rand(1, 1, 64, 96))
    assert z.shape == (1, 8, 16, 24)  # H/4 x W/4 x 8
    assert m.sde.T == 20  # the 20 steps recofuse-ivf / recofuse-seed sample with
    assert CONFIGS["gated"].train.holdout == 1


def test_split_holdout_keeps_the_last_pairs_of_each_dataset_out_of_training():
    from benchbed_recofuse.data import CleanPair, split_holdout

    z = np.zeros((4, 4), np.float32)
    pairs = [CleanPair(f"{ds}/{i:02d}", z, z) for ds, n in (("msrs", 4), ("llvip", 3), ("one", 1))
             for i in range(n)]
    train, held = split_holdout(pairs, 1)
    assert [p.id for p in held] == ["msrs/03", "llvip/02"]  # a one-pair split stays in training
    assert {p.id for p in train} | {p.id for p in held} == {p.id for p in pairs}
    assert not {p.id for p in train} & {p.id for p in held}
    assert split_holdout(pairs, 0) == (pairs, [])


def test_latent_gate_measures_the_reconstruction_psnr():
    from benchbed_recofuse import gates
    from benchbed_recofuse.model import ReCoFuse

    m = ReCoFuse(CONFIGS["gated"]).eval()
    rng = np.random.default_rng(0)
    images = [(f"d/{i}/vi", rng.random((40, 56)).astype(np.float32)) for i in range(2)]
    r = gates.latent_gate(m, images)
    recon = gates.reconstruct(m, images[0][1])
    assert recon.shape == (40, 56)
    want = np.mean([gates.psnr(gates.reconstruct(m, im), im) for _, im in images])
    assert r.details["mean_db"] == pytest.approx(want, abs=1e-3)
    assert r.passed == (want >= gates.LATENT_PSNR_DB)
    # 8-bit PSNR (golden: MSE of one grey level on every pixel = 48.13 dB = 10 log10(255^2))
    a = np.full((8, 8), 100 / 255, np.float32)
    assert gates.psnr(a, a + 1 / 255) == pytest.approx(10 * math.log10(255.0**2), abs=1e-9)


def test_eps_gate_is_zero_for_an_oracle_and_flags_the_worst_step():
    from benchbed_recofuse import gates
    from benchbed_recofuse.data import Batch
    from benchbed_recofuse.model import ReCoFuse

    m = ReCoFuse(CONFIGS["gated"]).eval()
    x = torch.rand(2, 1, 32, 32)
    batch = Batch(x, x.clone(), x, x.clone())
    errors = gates.eps_errors(m, [batch])
    assert set(errors) == {"vis", "ir"} and sorted(errors["vis"]) == list(range(1, 21))
    # an untrained net with eps_skip predicts E[eps | x - mu]: with LQ = clean (z0 = mu) the
    # noise is x_t - mu over sigma_bar, so the error is the net's residual, well above zero
    assert all(v > 0 for v in errors["vis"].values())
    r = gates.eps_gate({"vis": {1: 0.2, 2: 0.7}, "ir": {1: 0.1, 2: 0.3}})
    assert not r.passed and "vis worst 0.70 at t=2" in r.figure
    assert gates.eps_gate({"vis": {1: 0.2}, "ir": {1: 0.49}}).passed


def test_branch_and_coupling_gates_compare_group_means():
    from benchbed_recofuse import gates

    rows = [{"case": "real/a", "branch": "vis", "lq_db": 20.0, "alone_db": 22.0, "coupled_db": 23.0},
            {"case": "real/b", "branch": "vis", "lq_db": 20.0, "alone_db": 19.0, "coupled_db": 17.0},
            {"case": "haze/a", "branch": "vis", "lq_db": 15.0, "alone_db": 14.0, "coupled_db": 16.0}]
    b, c = gates.branch_gate(rows), gates.coupling_gate(rows)
    assert not b.passed and b.details["groups"]["real vis"]["alone_db"] == 20.5  # haze fails
    assert not c.passed  # real: coupled 20.0 < alone 20.5 (haze: 16 >= 14 holds)
    assert c.details["groups"]["haze vis"]["coupled_db"] == 16.0
    assert gates.coupling_gate(rows[2:]).passed and not gates.branch_gate(rows[2:]).passed


def test_restoration_table_rows_come_from_the_same_noise_coupled_and_alone():
    from benchbed_recofuse import gates
    from benchbed_recofuse.model import ReCoFuse

    torch.manual_seed(0)
    m = ReCoFuse(CONFIGS["gated"]).eval()
    rng = np.random.default_rng(0)
    vis, ir, ir2 = (rng.random((24, 40)).astype(np.float32) for _ in range(3))
    a_v, _ = gates.restore(m, vis, ir, seed=3, coupled=False)
    b_v, _ = gates.restore(m, vis, ir2, seed=3, coupled=False)
    np.testing.assert_array_equal(a_v, b_v)  # alone: the VIS branch never sees the IR source
    c_v, _ = gates.restore(m, vis, ir2, seed=3, coupled=True)
    assert not np.array_equal(c_v, b_v)  # coupled: TIM mixes the IR state in at every step
    case = gates.RestorationCase("haze/x", vis, ir, vis, ir, ("vis",))
    rows = gates.restoration_table(m, [case], seed=3)
    assert [r["branch"] for r in rows] == ["vis"]  # only the degraded source is scored
    assert rows[0]["alone_db"] == pytest.approx(gates.psnr(a_v, vis), abs=1e-9)
    assert rows[0]["lq_db"] == math.inf  # LQ = HQ here: PSNR of identical 8-bit images
    assert rows[0]["coupled_db"] == pytest.approx(gates.psnr(gates.restore(m, vis, ir, 3)[0], vis))
    alone_only = gates.restoration_table(m, [case], seed=3, coupled=False)
    assert "coupled_db" not in alone_only[0] and gates.branch_gate(alone_only).details["groups"]
    # Model I (trained without TIM) as a separate set of weights: its branches give the alone
    # rows, the measured model the coupled ones.
    torch.manual_seed(1)
    other = ReCoFuse(CONFIGS["gated"]).eval()
    vs_other = gates.restoration_table(m, [case], seed=3, alone_model=other)[0]
    assert vs_other["alone_db"] == pytest.approx(gates.psnr(gates.restore(other, vis, ir, 3,
                                                                          coupled=False)[0], vis))
    assert vs_other["coupled_db"] == rows[0]["coupled_db"]
    assert vs_other["alone_db"] != rows[0]["alone_db"]


def test_sampler_gate_requires_the_trained_steps():
    from benchbed_recofuse import gates
    from benchbed_recofuse.model import ReCoFuse

    m = ReCoFuse(CONFIGS["gated"])
    assert gates.sampler_gate(m, {"recofuse-ivf": [20], "recofuse-seed": [20]}).passed
    assert not gates.sampler_gate(m, {"recofuse-ivf": [20], "detection": [10]}).passed


def test_eps_loss_of_the_branch_stage_is_the_noise_prediction_mse(monkeypatch):
    """dim_loss = eps: the branch loss is the MSE between the predicted and the drawn noise."""
    tr = _trainer({"ae": 0, "dim": 1, "joint": 0}, config="gated")
    seen = {}
    real = torch.nn.functional.mse_loss

    def spy(a, b, *args, **kwargs):
        seen.setdefault("pairs", []).append((a.detach().clone(), b.detach().clone()))
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr("benchbed_recofuse.train.nnf.mse_loss", spy)
    losses = tr.advance()
    assert tr.stage == "dim" and len(seen["pairs"]) == 2
    (pv, nv), (pi, ni) = seen["pairs"]
    assert losses["vis"] == pytest.approx(float(((pv - nv) ** 2).mean()), rel=1e-6)
    assert losses["ir"] == pytest.approx(float(((pi - ni) ** 2).mean()), rel=1e-6)
    assert float(nv.std()) == pytest.approx(1.0, abs=0.3)  # the target is the drawn N(0, 1) noise


@pytest.mark.parametrize("config", ["gated", "gated-x0"])
def test_joint_stage_trains_the_step_the_sampler_takes(config):
    # issue 19, gate 4 ("the sampler used by the suites = the sampler it was trained for"): the
    # joint stage's prediction from z_f is the noise-free step of the model's own T-step sampler
    # (Euler-Maruyama for eps nets, the OU-bridge posterior mean for x0 nets)
    torch.manual_seed(0)
    tr = _trainer({"ae": 0, "dim": 0, "joint": 1}, config=config)
    m = tr.model
    z, z_other = torch.randn(2, 8, 4, 6), torch.randn(2, 8, 4, 6)
    mu, mu_other = torch.randn(2, 8, 4, 6), torch.randn(2, 8, 4, 6)
    for t in (1, 7, m.sde.T):
        with torch.no_grad():
            want = m.couple_step(z, z_other, mu, mu_other, t, t - 1, None, coupled=False)[0]
            got = tr._mean_step("vis", z, mu, torch.full((2,), t))
        torch.testing.assert_close(got, want)


def test_condition_coupling_starts_as_the_branches_alone_and_then_sees_the_other_source():
    # gated-x0-cond (issue 19, gate 3): the branches step from their own states and see TIM's z_f
    # through a zero-initialised conv, so before the joint stage the coupled sampler is exactly
    # the uncoupled one (Model I); once that conv is non-zero the VIS branch sees the IR source.
    from benchbed_recofuse.model import ReCoFuse

    m, run, ir, ir2 = _coupling_probe("gated-x0-cond")
    assert torch.equal(run(ir, True).vis, run(ir, False).vis)
    assert torch.equal(run(ir, True).ir, run(ir, False).ir)
    with torch.no_grad():
        for net in (m.dim_vis, m.dim_ir):
            net.couple.weight.normal_(0, 0.1)
    assert torch.equal(run(ir, False).vis, run(ir2, False).vis)
    assert not torch.equal(run(ir, True).vis, run(ir2, True).vis)
    with pytest.raises(ValueError, match="no z_f"):
        ReCoFuse(CONFIGS["gated-x0"]).dim_vis(torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 4, 4), 3,
                                               torch.zeros(1, 8, 4, 4))


def test_condition_coupled_joint_stage_goes_on_from_a_state_coupled_branch_stage(tmp_path):
    # The branch stage is the same for both couplings; gated-x0-cond starts its joint stage from
    # gated-x0 weights (its coupling convs at zero) and trains with the branch stage's x0 loss,
    # so its first loss is Model I's loss on that batch.
    from benchbed.errors import BenchbedError

    a = _trainer({"ae": 1, "dim": 2, "joint": 0}, config="gated-x0")
    while a.advance() is not None:
        pass
    a.export(tmp_path / "branch.pt", seed=0)
    b = _trainer({"ae": 1, "dim": 2, "joint": 1}, config="gated-x0-cond")
    b.start_from(tmp_path / "branch.pt", seed=0)
    assert (b.stage, b.k) == ("joint", 0)
    state = b.model.state_dict()
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, state[k]) or k.startswith("tim."), k  # TIM: the equal blend
    couple = [k for k in state if ".couple." in k]
    assert len(couple) == 4 and all(not state[k].any() for k in couple)
    e = b._encode(b.maker.make(2, 32, np.random.default_rng(3)))
    t, x_v, x_i, _, _ = b._states(e)
    with torch.no_grad():
        z_f = b.model.tim(x_v, x_i, t)
        got = b._x0_loss("vis", x_v, e["mu_v"], e["z0_v"], t, z_f)
        alone = b._x0_loss("vis", x_v, e["mu_v"], e["z0_v"], t)
    assert torch.equal(got, alone)
    losses = b.advance()
    assert math.isfinite(losses["vis"]) and b.advance() is None
    assert any(b.model.state_dict()[k].any() for k in couple)  # the joint stage trains them
    with pytest.raises(BenchbedError, match="holds the 'gated-x0' config"):
        _trainer({"ae": 1, "dim": 2, "joint": 1}, config="gated").start_from(
            tmp_path / "branch.pt", seed=0)


def test_joint_stage_can_train_only_the_coupling_convs():
    # joint_train=coupling: the branch trunks stay the branch stage's (Model I), only the
    # zero-initialised z_f convs (and TIM) learn; refused where there are no such convs
    from benchbed_recofuse.train import train

    from benchbed.errors import BenchbedError

    tr = _trainer({"ae": 0, "dim": 0, "joint": 0}, config="gated-x0-cond")
    tr.cfg = with_train(tr.cfg, joint_train="coupling")
    tr.plan = {"ae": 0, "dim": 0, "joint": 1}
    before = {k: v.detach().clone() for k, v in tr.model.named_parameters()}
    assert tr.advance() is not None
    after = dict(tr.model.named_parameters())
    changed = {k for k in after if not torch.equal(before[k], after[k])}
    assert changed and all(".couple." in k or k.startswith("tim.") for k in changed)
    assert any(".couple." in k for k in changed)
    # refused with the config, before any stage runs (not hours later at the joint stage)
    with pytest.raises(ValueError, match="coupling 'condition'"):
        with_train(CONFIGS["gated-x0"], joint_train="coupling")
    with pytest.raises(BenchbedError, match="coupling 'condition'"):
        train("gated-x0", joint_train="coupling", echo=lambda *_: None)
