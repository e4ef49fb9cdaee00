//! The crate's error type and the exit code each kind maps to.

use crate::data::DataError;

/// Anything that can stop a ppml command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A dataset is missing, corrupt or could not be fetched.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A configuration that cannot be run.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Privacy parameters out of range, or a target ε no noise reaches.
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    /// Writing results failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A results folder or Markdown file that `ppml report` cannot use.
    #[error(transparent)]
    Table(#[from] crate::report::runs::TableError),
    /// A sweep grid that cannot be expanded.
    #[error(transparent)]
    Sweep(#[from] crate::experiments::sweep::SweepError),
    /// `ppml sweep`: runs that failed (their logs named), or that could not be started.
    #[error("{0}")]
    SweepRuns(String),
    /// `ppml report --check`: the Markdown file's table is not what the results give.
    #[error("{0}")]
    Stale(String),
    /// Federated-learning settings that cannot work (never an abort: see the `From` impl).
    #[error(transparent)]
    SecAgg(crate::fl::SecAggError),
    /// A federated round that started with valid settings and aborted, as its protocol
    /// prescribes (too few survivors, a party missing from n-of-n sharing, a refused message).
    #[error(transparent)]
    RoundAborted(crate::fl::ProtocolAbort),
    /// Attack scores that make no ROC curve (NaN logits from a diverged model).
    #[error("cannot measure the attack: {0}")]
    Metric(#[from] crate::metrics::RocError),
    /// Reconstructions that cannot be measured, or a recovery threshold outside (0, 1].
    #[error("cannot measure the reconstruction: {0}")]
    Leakage(#[from] crate::metrics::LeakageError),
    /// A measured attack beat what DP allows any attack: a bug in training, sampling or
    /// accounting. The results were written, with the violations listed in them.
    #[error("{0}")]
    AboveCeiling(String),
    /// Training produced a non-finite loss; nothing was written.
    #[error(transparent)]
    Diverged(#[from] crate::train::Diverged),
    /// The compute backend failed.
    #[error("backend error: {0}")]
    Backend(String),
}

impl Error {
    /// 2 for bad input or configuration (the user can fix it), 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Data(_)
            | Error::Config(_)
            | Error::Privacy(_)
            | Error::Table(_)
            | Error::Sweep(_)
            | Error::SecAgg(_) => 2,
            Error::Leakage(e) if e.is_bad_setting() => 2,
            Error::Report(_)
            | Error::Stale(_)
            | Error::SweepRuns(_)
            | Error::Metric(_)
            | Error::Leakage(_)
            | Error::AboveCeiling(_)
            | Error::Diverged(_)
            | Error::RoundAborted(_)
            | Error::Backend(_) => 1,
        }
    }
}

impl From<crate::fl::SecAggError> for Error {
    /// Sorts by kind: an abort exits 1 like any failed run, a bad setting 2.
    fn from(e: crate::fl::SecAggError) -> Self {
        match e {
            crate::fl::SecAggError::Aborted(abort) => Error::RoundAborted(abort),
            config => Error::SecAgg(config),
        }
    }
}

impl From<crate::fl::ProtocolAbort> for Error {
    fn from(abort: crate::fl::ProtocolAbort) -> Self {
        Error::RoundAborted(abort)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::{Phase, ProtocolAbort, SecAggError};

    #[test]
    fn an_aborted_round_exits_1_and_a_bad_setting_2() {
        let abort = ProtocolAbort::TooFewSurvivors {
            phase: Phase::MaskedInput,
            alive: 1,
            threshold: 2,
        };
        let wrapped = Error::from(SecAggError::Aborted(abort.clone()));
        assert!(matches!(wrapped, Error::RoundAborted(_)));
        assert_eq!(wrapped.exit_code(), 1);
        assert_eq!(wrapped.to_string(), abort.to_string());
        let config = Error::from(SecAggError::TooFewParties { parties: 1 });
        assert!(matches!(config, Error::SecAgg(_)));
        assert_eq!(config.exit_code(), 2);
    }

    #[test]
    fn a_bad_ssim_threshold_exits_2_and_an_unmeasurable_reconstruction_1() {
        use crate::metrics::{LeakageError, SsimThreshold};
        let threshold = Error::from(SsimThreshold::new(1.5).unwrap_err());
        assert_eq!(threshold.exit_code(), 2);
        assert_eq!(Error::from(LeakageError::NonFinite).exit_code(), 1);
    }
}
