"""NoteVAE variants, priors, removers and loss terms: shapes, gradients, definitions."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rtsynth.config import ConfigError
from rtsynth.labels import DESCRIPTORS, LATENT_DIMS, LATENT_SIZE
from rtsynth.train.config import VARIANTS, LossConfig, ModelConfig, TrainConfig
from rtsynth.train.losses import (
    Weights,
    edge_weights,
    label_spread,
    model_terms,
    model_total,
    remover_input,
    remover_terms,
    uniform_kl,
)
from rtsynth.train.models import Removers, build_model
from rtsynth.train.models.encoder import FeatureExtractor
from rtsynth.train.models.priors import gaussian_kl

SIZES = {"timbre": 14, "pitch": 24, "dynamics": 3, "duration": 24}
MEL = ModelConfig(decoder_output="mel")  # the paper's output layer (the harmonic one: test_harmonic.py)
B = 3


def _batch():
    torch.manual_seed(0)
    mel = torch.rand(B, 256, 256)
    labels = {d: torch.randint(0, k, (B,)) for d, k in SIZES.items()}
    return mel, labels


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_shapes_and_gradients(variant):
    """Default (shipped) network at the paper's 256x256 input, every variant."""
    config = TrainConfig(variant=variant, model=MEL)
    model = build_model(config, SIZES)
    removers = Removers(SIZES, config.model.remover_hidden) if config.uses_removers else None
    mel, labels = _batch()
    out = model(mel)
    assert out.recon.shape == (B, 256, 256)
    assert 0.0 <= float(out.recon.detach().min()) <= float(out.recon.detach().max()) <= 1.0
    for d in DESCRIPTORS:
        mu, logvar = out.posteriors[d]
        assert mu.shape == logvar.shape == (B, LATENT_DIMS[d])
        assert out.z[d].shape == (B, LATENT_DIMS[d])
        assert out.logits[d].shape == (B, SIZES[d])
    terms = model_terms(model, out, mel, labels, removers, config.loss)
    model_total(terms, config.loss, Weights(beta=1.0, remover=1.0)).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing}"
    if removers is not None:
        assert all(p.grad is None for p in removers.parameters()), "stage 1 must not train the removers"


def test_contract_methods():
    model = build_model(TrainConfig(variant="md-gmvae+c", model=MEL), SIZES).eval()
    mel, _ = _batch()
    post = model.encode(mel)
    assert list(post) == list(DESCRIPTORS)
    z = {d: mu for d, (mu, _) in post.items()}
    assert model.decode(torch.cat([z[d] for d in DESCRIPTORS], dim=1)).shape == (B, 256, 256)
    assert {d: v.shape for d, v in model.classify(z).items()} == {d: (B, k) for d, k in SIZES.items()}
    means = model.prior_means()
    assert {d: tuple(m.shape) for d, m in means.items()} == {d: (SIZES[d], LATENT_DIMS[d]) for d in DESCRIPTORS}
    assert model.prior_logvar == 0.0
    assert build_model(TrainConfig(variant="md-vae+c", model=MEL), SIZES).prior_means() is None


def test_eval_uses_posterior_mean():
    model = build_model(TrainConfig(variant="md-vae+c", model=MEL), SIZES).eval()
    mel, _ = _batch()
    out = model(mel)
    for d in DESCRIPTORS:
        assert torch.equal(out.z[d], out.posteriors[d][0])
    model.train()
    assert not torch.equal(model(mel).z["timbre"], out.z["timbre"])


def test_vae_c_classifiers_see_the_whole_latent():
    model = build_model(TrainConfig(variant="vae+c", model=MEL), SIZES)
    for d in DESCRIPTORS:
        assert model.classifiers[d][0].in_features == LATENT_SIZE
    assert build_model(TrainConfig(variant="md-vae+c", model=MEL), SIZES).classifiers["pitch"][0].in_features == 4


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(1)
    mu, logvar, prior = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(prior, torch.ones(4))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    assert torch.allclose(gaussian_kl(mu, logvar, prior, 0.0), expected, atol=1e-5)


def test_gm_prior_kl_uses_the_labelled_component():
    model = build_model(TrainConfig(variant="md-gmvae+c", model=MEL), SIZES)
    means = model.prior_means()["pitch"].detach()
    labels = {d: torch.tensor([1, 2]) for d in DESCRIPTORS}
    mu = means[labels["pitch"]].clone()
    post = {d: (torch.zeros(2, LATENT_DIMS[d]), torch.zeros(2, LATENT_DIMS[d])) for d in DESCRIPTORS}
    post["pitch"] = (mu, torch.zeros_like(mu))
    kl = model.kl(post, labels)
    assert torch.allclose(kl["pitch"], torch.zeros(2), atol=1e-6)  # posterior = its own component
    other = model.kl(post, {**labels, "pitch": torch.tensor([2, 6])})
    assert (other["pitch"] > 0).all()


def test_initialisation_scales():
    """Xavier (uniform, bounded) in encoder/decoder linears; Kaiming (normal) in C and R."""
    torch.manual_seed(3)
    model = build_model(TrainConfig(model=MEL), SIZES)
    lin = model.features.project[1]
    bound = math.sqrt(6 / (lin.in_features + lin.out_features))
    assert float(lin.weight.detach().abs().max()) <= bound * (1 + 1e-6)
    c = model.classifiers["timbre"][0]
    std = math.sqrt(2 / (1 + 0.01**2) / c.in_features)
    assert abs(float(c.weight.detach().std()) - std) < 0.35 * std
    r = Removers(SIZES, (64, 64)).nets["pitch"][0]
    assert r.in_features == LATENT_SIZE - LATENT_DIMS["pitch"]


def test_uniform_kl_zero_at_uniform_and_positive_otherwise():
    assert abs(float(uniform_kl(torch.zeros(4, 7)))) < 1e-6
    assert float(uniform_kl(torch.tensor([[5.0, 0.0, 0.0]]))) > 0.1


def test_remover_terms_and_edge_weights():
    torch.manual_seed(2)
    logits = {d: torch.randn(4, k) for d, k in SIZES.items()}
    labels = {d: torch.randint(0, k, (4,)) for d, k in SIZES.items()}
    assert set(remover_terms(logits, labels)) == {f"rem_{d}" for d in DESCRIPTORS}
    flat = torch.full((1, 8, 8), 0.5)
    assert torch.equal(edge_weights(flat, 4.0), torch.ones(1, 8, 8))
    step = flat.clone()
    step[:, 4:] = 1.0  # an edge along frequency
    w = edge_weights(step, 4.0)
    assert float(w[0, 4, 4]) > 1.0 and float(w[0, 0, 4]) == 1.0


def test_loss_config_weights_enter_total():
    terms = {"recon_edge_mse": torch.tensor(0.1), "recon_huber": torch.tensor(0.01)}
    for d in DESCRIPTORS:
        terms.update({f"kl_{d}": torch.tensor(2.0), f"cls_{d}": torch.tensor(1.0), f"adv_{d}": torch.tensor(0.5)})
    cfg = LossConfig(recon_weight=10.0, huber_weight=2.0, classifier_weight=3.0)
    total = model_total(terms, cfg, Weights(beta=0.5, remover=0.25))
    expected = 10 * (0.1 + 2 * 0.01) + 4 * (0.5 * 2 + 3 * 1 + 0.25 * 0.5)
    assert abs(float(total) - expected) < 1e-5


def test_sounding_summary_sees_the_sound_not_its_length():
    """The summary branch gives a short note and a long one of the same spectrum the same
    features (silence after the note left out), and another spectrum different ones."""
    torch.manual_seed(4)
    config = ModelConfig(summary_hidden=32)
    features = FeatureExtractor(config, 256, 256)
    profile = torch.rand(256, 1) * 0.5 + 0.5

    def note(frames: int, spectrum: torch.Tensor) -> torch.Tensor:
        mel = torch.zeros(1, 256, 256)
        mel[0, :, :frames] = spectrum * torch.linspace(1.0, 0.9, frames)
        return mel

    short, long_, other = note(20, profile), note(120, profile), note(20, profile.flip(0))
    with torch.no_grad():
        a, b, c = (features.summary(m, m) for m in (short, long_, other))
    assert torch.allclose(a, b, atol=1e-3)
    assert (a - c).abs().max() > 10 * (a - b).abs().max()


def test_summary_branch_trains_with_the_model():
    config = TrainConfig(model=dataclasses.replace(MEL, summary_hidden=32))
    model = build_model(config, SIZES)
    mel, labels = _batch()
    out = model(mel)
    model_total(model_terms(model, out, mel, labels, None, config.loss), config.loss, Weights(1.0, 0.0)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.features.summary.parameters())


def test_summary_settings_are_checked():
    with pytest.raises(ConfigError, match="summary"):
        TrainConfig(model=ModelConfig(summary_hidden=-1))


def test_removers_read_samples_or_posterior_means_as_configured():
    """The adversarial term depends on the samples by default and only on the means with "mean"."""
    config = TrainConfig(model=MEL)
    model = build_model(config, SIZES).train()
    removers = Removers(SIZES, config.model.remover_hidden)
    mel, labels = _batch()
    out = model(mel)
    for source, follows_sample in (("sample", True), ("mean", False)):
        loss = LossConfig(remover_input=source)
        read = remover_input(out, loss)
        assert all(torch.equal(read[d], out.z[d] if follows_sample else out.posteriors[d][0]) for d in DESCRIPTORS)
        moved = {d: z + 1.0 for d, z in out.z.items()}  # other samples, the same means
        shifted = dataclasses.replace(out, z=moved)
        adv = model_terms(model, out, mel, labels, removers, loss)["adv_timbre"]
        adv_moved = model_terms(model, shifted, mel, labels, removers, loss)["adv_timbre"]
        assert (not torch.allclose(adv, adv_moved)) == follows_sample, source


def test_label_spread_measures_what_another_label_moves_inside_a_class():
    """Two timbres, two dynamics: the spread is the squared shift of each (timbre, dynamic)
    mean from its timbre's mean, and zero when the dynamic does not move the latent."""
    own = torch.tensor([0, 0, 0, 1, 1, 1])
    other = torch.tensor([0, 0, 1, 0, 1, 1])
    moved = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 0.0], [5.0, 1.0], [5.0, 4.0], [5.0, 4.0]])
    # timbre 0: group means (0,0) x2 and (3,0), class mean (1,0): 1+1+4; timbre 1: (5,1) and (5,4)x2
    # around (5,3): 4+1+1
    assert float(label_spread(moved, own, other, 2)) == pytest.approx((1 + 1 + 4 + 4 + 1 + 1) / 6)
    still = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0], [5.0, 1.0], [5.0, 0.0], [5.0, 2.0]])
    assert float(label_spread(still, own, other, 2)) == pytest.approx(0.0, abs=1e-7)


def test_spread_weight_adds_spread_terms_that_train_the_encoder():
    config = TrainConfig(model=MEL, loss=LossConfig(spread_weight=2.0))
    model = build_model(config, SIZES).train()
    mel, labels = _batch()
    labels["timbre"], labels["dynamics"] = torch.zeros(B, dtype=torch.long), torch.tensor([0, 1, 1])
    out = model(mel)
    terms = model_terms(model, out, mel, labels, None, config.loss)
    assert {f"spread_{d}" for d in DESCRIPTORS} <= terms.keys()
    assert "spread_timbre" not in model_terms(model, out, mel, labels, None, LossConfig())
    weights = Weights(beta=1.0, remover=0.0)
    without = model_total({k: v for k, v in terms.items() if not k.startswith("spread_")}, config.loss, weights)
    spread = sum(terms[f"spread_{d}"] for d in DESCRIPTORS)
    assert torch.allclose(model_total(terms, config.loss, weights), without + 2.0 * spread)
    spread.backward()
    assert any(float(p.grad.abs().sum()) > 0 for p in model.heads["timbre"].parameters() if p.grad is not None)
    with pytest.raises(ConfigError, match="spread_weight"):
        TrainConfig(loss=LossConfig(spread_weight=-1.0))
