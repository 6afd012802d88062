"""The columns of results/results.csv, shared by the stage that writes it and the params that name them."""

SAMPLE_METRICS = ("pitchedness", "pitch_accuracy", "spectral_flatness", "spectral_flatness_in_band", "frechet_distance", "kernel_distance", "instrument_accuracy", "instrument_accuracy_partials", "digit_accuracy")
MELODY_METRICS = ("pitch_class_distance", "in_key_share", "note_density", "polyphony", "empty_share")  # pianoroll layout
HYPERPARAMETER_COLUMNS = ("point", "arch", "blocks", "channels", "lr", "epoch", "sampler")
METRIC_COLUMNS = ("train_loss", "test_loss", "train_minutes", "nfe", "seconds_per_sample", "bpd", "bpd_nfe", *SAMPLE_METRICS, *MELODY_METRICS)
COLUMNS = (*HYPERPARAMETER_COLUMNS, *METRIC_COLUMNS)
