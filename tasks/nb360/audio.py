"""FSD50K audio features of NAS-Bench-360 (its ``AudioParser``) in numpy.

``torchaudio.transforms.MelSpectrogram(sample_rate=22050, n_fft=1920, win_length=661,
hop_length=220, n_mels=96)`` with its defaults (periodic Hann window zero-padded to n_fft at the
centre, ``center=True`` with reflect padding, power 2, HTK mel scale, no filter normalisation,
f_min 0, f_max 11025), then ``librosa.power_to_db`` with its defaults (ref 1, amin 1e-10,
top_db 80), then +75 (the parser's ``top_db / 2`` with top_db 150), then minus the mean.
A 1 s clip (22,050 samples) gives 96 x 101 features.

Audio files (chunks and background noise) are read with ``soundfile`` as NAS-Bench-360's
``load_audio`` reads them: any format and encoding libsndfile reads (PCM 8/16/24/32-bit, float,
extensible WAV, FLAC, ...), scaled to [-1, 1), channels averaged, then tiled to at least 1 s
(``load_audio(min_duration=1)``).
"""
from __future__ import annotations

import io
import wave
from functools import lru_cache

import numpy as np
import soundfile

SAMPLE_RATE, N_FFT, WIN_LENGTH, HOP_LENGTH, N_MELS = 22050, 1920, 661, 220, 96
TOP_DB_OFFSET = 75.0  # AudioParser: specgram += top_db / 2 with top_db = 150
FRAMES = 101  # 1 s of audio


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate) of audio file bytes, read as NAS-Bench-360's ``load_audio``
    reads them (``soundfile.read``, float64, then float32); channels are averaged."""
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return samples.mean(axis=1).astype(np.float32), int(rate)


def write_wav(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM WAV bytes of samples in [-1, 1]."""
    pcm = (np.clip(samples, -1, 1 - 2**-15) * 32768).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return out.getvalue()


def tile_to(samples: np.ndarray, minimum: int = SAMPLE_RATE) -> np.ndarray:
    """``load_audio``: audio shorter than ``minimum`` samples is repeated and cut to ``minimum``."""
    if len(samples) >= minimum:
        return samples
    return np.tile(samples, minimum // len(samples) + 1)[:minimum]


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@lru_cache(maxsize=4)
def mel_filterbank(n_fft: int = N_FFT, n_mels: int = N_MELS, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular HTK filters between 0 and sample_rate // 2, unnormalised."""
    freqs = np.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(float(sample_rate // 2)), n_mels + 2))
    slopes = edges[None, :] - freqs[:, None]
    widths = np.diff(edges)
    down, up = -slopes[:, :-2] / widths[:-1], slopes[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(down, up))


@lru_cache(maxsize=4)
def stft_window(n_fft: int = N_FFT, win_length: int = WIN_LENGTH) -> np.ndarray:
    """Periodic Hann window of ``win_length`` centred in ``n_fft`` zeros (torch.stft's padding)."""
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(hann, (left, n_fft - win_length - left))


def power_spectrogram(samples: np.ndarray, n_fft: int = N_FFT, hop: int = HOP_LENGTH) -> np.ndarray:
    """(n_fft // 2 + 1, frames) |STFT|^2 with centred frames and reflect padding."""
    padded = np.pad(np.asarray(samples, np.float64), n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    return (np.abs(np.fft.rfft(frames * stft_window(n_fft), axis=1)) ** 2).T


def power_to_db(power: np.ndarray, amin: float = 1e-10, top_db: float = 80.0) -> np.ndarray:
    db = 10.0 * np.log10(np.maximum(amin, power))
    return np.maximum(db, db.max() - top_db)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(96, frames) float32 features of one chunk, zero-mean (``AudioParser`` 'melspectrogram')."""
    mel = mel_filterbank().T @ power_spectrogram(samples)
    features = (power_to_db(mel) + TOP_DB_OFFSET).astype(np.float32)
    return features - features.mean()
