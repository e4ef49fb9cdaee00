//! Shamir t-out-of-n secret sharing over the curve25519 scalar field, through vsss-rs.
//!
//! Shamir 1979, "How to Share a Secret": a random polynomial of degree t − 1 with the secret
//! as constant term, evaluated at each holder's identifier; any t evaluations interpolate it,
//! t − 1 are uniformly distributed whatever the secret. Bonawitz et al. 2017 use it for the
//! mask secret keys and self-mask seeds. The field is curve25519's scalar field (prime ℓ), so a
//! share is 32 bytes. Holder `p` gets identifier p + 1 (0 would be the secret itself).
//!
//! vsss-rs (audited) does the arithmetic; this file only maps party ids to identifiers, checks
//! the threshold before interpolating (vsss-rs would silently interpolate a wrong polynomial
//! through fewer than t points) and gives shares a fixed 32-byte wire form.

use curve25519_dalek::scalar::Scalar;
use vsss_rs::{DefaultShare, IdentifierPrimeField, ReadableShareSet, shamir};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::fl::secagg::keys::ShareableSecret;
use crate::fl::{PartyId, ProtocolAbort, SecAggError};

type FieldShare = DefaultShare<IdentifierPrimeField<Scalar>, IdentifierPrimeField<Scalar>>;

/// One holder's share value (the polynomial at the holder's identifier). Zeroized on drop;
/// `Debug` prints no bytes.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ShareValue(Scalar);

impl ShareValue {
    /// The 32-byte canonical encoding (for the encrypted payload).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Parses a canonical encoding; `None` if the bytes are not a reduced scalar.
    pub fn from_bytes(bytes: [u8; 32]) -> Option<Self> {
        Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes)).map(ShareValue)
    }
}

impl std::fmt::Debug for ShareValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareValue(..)")
    }
}

fn identifier(holder: PartyId) -> IdentifierPrimeField<Scalar> {
    IdentifierPrimeField(Scalar::from(holder as u64 + 1))
}

/// Splits `secret` among `holders` (distinct party ids, at least `threshold` of them), any
/// `threshold` of whom can rebuild it. Returns one (holder, share) per holder, in order.
pub fn split<R: rand::CryptoRng + ?Sized>(
    secret: &ShareableSecret,
    threshold: usize,
    holders: &[PartyId],
    rng: &mut R,
) -> Result<Vec<(PartyId, ShareValue)>, SecAggError> {
    if holders.len() < threshold {
        return Err(SecAggError::ThresholdAboveParties {
            threshold,
            holders: holders.len(),
        });
    }
    let value = IdentifierPrimeField(*secret.scalar());
    let shares = shamir::split_secret_with_ids::<FieldShare>(
        threshold,
        holders.len(),
        &value,
        rng,
        holders.iter().map(|&h| identifier(h)),
    )
    .expect("threshold ≥ 2 and distinct non-zero identifiers were checked by SecAggParams");
    Ok(holders
        .iter()
        .zip(shares)
        .map(|(&h, s)| (h, ShareValue(s.value.0)))
        .collect())
}

/// Rebuilds a secret from at least `threshold` shares (extra shares are ignored: t points fix
/// the polynomial). Fewer than `threshold` is an error, never a wrong secret.
pub fn combine(
    shares: &[(PartyId, &ShareValue)],
    threshold: usize,
    whose: impl Fn() -> String,
) -> Result<ShareableSecret, SecAggError> {
    if shares.len() < threshold {
        return Err(ProtocolAbort::TooFewShares {
            have: shares.len(),
            threshold,
            whose: whose(),
        }
        .into());
    }
    let set: Vec<FieldShare> = shares[..threshold]
        .iter()
        .map(|(h, v)| FieldShare {
            identifier: identifier(*h),
            value: IdentifierPrimeField(v.0),
        })
        .collect();
    let secret = set.combine().map_err(|_| ProtocolAbort::Reconstruction {
        whose: whose(),
        reason: "duplicate or zero share identifiers",
    })?;
    Ok(ShareableSecret::from_scalar(secret.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand::SeedableRng;

    fn shares_of(secret: &ShareableSecret, t: usize, n: usize) -> Vec<(PartyId, ShareValue)> {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let holders: Vec<PartyId> = (0..n).collect();
        split(secret, t, &holders, &mut rng).unwrap()
    }

    #[test]
    fn any_t_shares_rebuild_the_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let secret = ShareableSecret::random(&mut rng);
        let shares = shares_of(&secret, 3, 5);
        for subset in [[0, 1, 2], [2, 3, 4], [0, 2, 4], [4, 1, 3]] {
            let picked: Vec<(PartyId, &ShareValue)> = subset
                .iter()
                .map(|&i| (shares[i].0, &shares[i].1))
                .collect();
            let back = combine(&picked, 3, String::new).unwrap();
            assert_eq!(back.scalar(), secret.scalar());
        }
    }

    #[test]
    fn fewer_than_t_shares_are_refused_and_would_not_interpolate_the_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let secret = ShareableSecret::random(&mut rng);
        let shares = shares_of(&secret, 4, 6);
        let picked: Vec<(PartyId, &ShareValue)> =
            shares[..3].iter().map(|(h, v)| (*h, v)).collect();
        assert!(matches!(
            combine(&picked, 4, || "x".into()),
            Err(SecAggError::Aborted(ProtocolAbort::TooFewShares {
                have: 3,
                threshold: 4,
                ..
            }))
        ));
        // Interpolating the 3 points anyway (as if t were 3) gives some other field element.
        let wrong = combine(&picked, 3, String::new).unwrap();
        assert_ne!(wrong.scalar(), secret.scalar());
    }

    #[test]
    fn share_values_round_trip_through_bytes_and_reject_non_canonical_ones() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let secret = ShareableSecret::random(&mut rng);
        let shares = shares_of(&secret, 2, 3);
        let bytes = shares[0].1.to_bytes();
        assert_eq!(ShareValue::from_bytes(bytes), Some(shares[0].1.clone()));
        assert_eq!(ShareValue::from_bytes([0xff; 32]), None);
        assert_eq!(format!("{:?}", shares[0].1), "ShareValue(..)");
    }
}
