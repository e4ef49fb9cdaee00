//! A SecAgg client: one party's side of Bonawitz et al. 2017, Figure 4.
//!
//! The client owns its input and its secrets (encryption key c_sk, mask key s_sk, self-mask
//! seed b, the shares others sent it); nothing outside can read them. Each round is a method
//! that takes the server's message by reference and returns the client's reply by value, and
//! refuses messages an honest server would not send. Steps must come in order; each runs once.

use std::collections::BTreeMap;

use chacha20::ChaCha20Rng;
use rayon::prelude::*;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::fl::aggregation::Phase;
use crate::fl::prg::{self, MaskSeed, Sign};
use crate::fl::ring::RingWord;
use crate::fl::secagg::envelope::{self, SharePayload};
use crate::fl::secagg::keys::{self, PublicKeys, ShareKey, ShareableSecret};
use crate::fl::secagg::messages::{
    AdvertiseKeys, EncryptedShares, KeyRoster, MaskedInput, UnmaskRequest, UnmaskResponse,
};
use crate::fl::secagg::{SecAggParams, Session, shamir};
use crate::fl::{PartyId, ProtocolAbort, SecAggError};

enum State {
    Fresh,
    Advertised,
    /// After round 1: the neighbourhood's keys and the share keys agreed with each neighbour,
    /// plus the share this party keeps of its own secrets.
    SharedKeys {
        roster: Vec<AdvertiseKeys>,
        share_keys: BTreeMap<PartyId, ShareKey>,
        own: SharePayload,
    },
    /// After round 2: the shares held, one payload per party of U2 in the neighbourhood.
    Masked {
        held: BTreeMap<PartyId, SharePayload>,
    },
    Done,
}

/// One party of a SecAgg round.
pub struct SecAggClient<W> {
    id: PartyId,
    params: SecAggParams,
    session: Session,
    rng: ChaCha20Rng,
    encryption: StaticSecret,
    masking: ShareableSecret,
    self_seed: ShareableSecret,
    public: PublicKeys,
    input: Vec<W>,
    state: State,
}

impl<W> std::fmt::Debug for SecAggClient<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecAggClient")
            .field("id", &self.id)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<W: RingWord> SecAggClient<W> {
    /// Party `id` with its encoded input; `rng` must be a CSPRNG private to this party (in a
    /// deployment, the operating system's).
    pub fn new(
        id: PartyId,
        params: SecAggParams,
        session: Session,
        input: Vec<W>,
        mut rng: ChaCha20Rng,
    ) -> Result<Self, SecAggError> {
        if input.len() != params.vector_len() {
            return Err(SecAggError::LengthMismatch {
                party: id,
                expected: params.vector_len(),
                found: input.len(),
            });
        }
        let mut c = [0u8; 32];
        rand::Rng::fill_bytes(&mut rng, &mut c);
        let encryption = StaticSecret::from(c);
        zeroize::Zeroize::zeroize(&mut c);
        let masking = ShareableSecret::random(&mut rng);
        let self_seed = ShareableSecret::random(&mut rng);
        let public = PublicKeys {
            encryption: PublicKey::from(&encryption),
            masking: masking.public_key(),
        };
        Ok(SecAggClient {
            id,
            params,
            session,
            rng,
            encryption,
            masking,
            self_seed,
            public,
            input,
            state: State::Fresh,
        })
    }

    /// This party's id.
    pub fn id(&self) -> PartyId {
        self.id
    }

    fn reject(&self, phase: Phase, reason: &'static str) -> SecAggError {
        ProtocolAbort::BadServerMessage {
            client: self.id,
            phase,
            reason,
        }
        .into()
    }

    /// Round 0: the two public keys.
    pub fn advertise_keys(&mut self) -> Result<AdvertiseKeys, SecAggError> {
        if !matches!(self.state, State::Fresh) {
            return Err(ProtocolAbort::OutOfOrder {
                step: "advertise_keys",
            }
            .into());
        }
        self.state = State::Advertised;
        Ok(AdvertiseKeys {
            from: self.id,
            keys: self.public,
        })
    }

    /// Round 1: checks the roster, Shamir-shares s_sk and b among the roster (threshold t)
    /// and encrypts each holder's pair of shares for it.
    pub fn share_keys(&mut self, roster: &KeyRoster) -> Result<Vec<EncryptedShares>, SecAggError> {
        if !matches!(self.state, State::Advertised) {
            return Err(ProtocolAbort::OutOfOrder { step: "share_keys" }.into());
        }
        let phase = Phase::ShareKeys;
        let entries = &roster.entries;
        if !entries.windows(2).all(|w| w[0].from < w[1].from)
            || entries.iter().any(|e| e.from >= self.params.parties())
        {
            return Err(self.reject(phase, "roster ids are not distinct valid parties"));
        }
        match entries.iter().find(|e| e.from == self.id) {
            Some(own) if own.keys == self.public => {}
            _ => return Err(self.reject(phase, "the roster misreports this party's own keys")),
        }
        let mut all_keys: Vec<[u8; 32]> = entries
            .iter()
            .flat_map(|e| [e.keys.encryption.to_bytes(), e.keys.masking.to_bytes()])
            .collect();
        all_keys.sort_unstable();
        if all_keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(self.reject(phase, "two advertised public keys are identical"));
        }
        let threshold = self.params.threshold();
        if entries.len() < threshold {
            return Err(ProtocolAbort::TooFewSurvivors {
                phase,
                alive: entries.len(),
                threshold,
            }
            .into());
        }

        let holders: Vec<PartyId> = entries.iter().map(|e| e.from).collect();
        let mask_key_shares = shamir::split(&self.masking, threshold, &holders, &mut self.rng)?;
        let seed_shares = shamir::split(&self.self_seed, threshold, &holders, &mut self.rng)?;
        let (u, session, encryption) = (self.id, self.session, &self.encryption);
        let sealed: Vec<(PartyId, ShareKey, EncryptedShares)> = entries
            .par_iter()
            .zip(mask_key_shares.par_iter().zip(seed_shares.par_iter()))
            .filter(|(e, _)| e.from != u)
            .map(|(e, ((_, mask_key), (_, self_seed)))| {
                let shared = keys::agree(encryption, &e.keys.encryption, e.from)?;
                let key = keys::share_key(&shared, &session, u, e.from);
                let payload = SharePayload {
                    from: u,
                    to: e.from,
                    mask_key: mask_key.clone(),
                    self_seed: self_seed.clone(),
                };
                let message = envelope::seal(&key, &session, &payload);
                Ok((e.from, key, message))
            })
            .collect::<Result<_, SecAggError>>()?;
        let at = holders.binary_search(&u).expect("own entry checked above");
        let own = SharePayload {
            from: u,
            to: u,
            mask_key: mask_key_shares[at].1.clone(),
            self_seed: seed_shares[at].1.clone(),
        };
        let mut share_keys = BTreeMap::new();
        let mut out = Vec::with_capacity(sealed.len());
        for (v, key, message) in sealed {
            share_keys.insert(v, key);
            out.push(message);
        }
        self.state = State::SharedKeys {
            roster: entries.clone(),
            share_keys,
            own,
        };
        Ok(out)
    }

    /// Round 2: decrypts the shares received (from U2, the parties that finished round 1),
    /// then masks the input: y = x + PRG(b) + Σ_{v∈U2, v>u} PRG(s_uv) − Σ_{v∈U2, v<u} PRG(s_uv).
    pub fn masked_input(
        &mut self,
        inbox: &[EncryptedShares],
    ) -> Result<MaskedInput<W>, SecAggError> {
        let State::SharedKeys {
            roster,
            share_keys,
            own,
        } = &self.state
        else {
            return Err(ProtocolAbort::OutOfOrder {
                step: "masked_input",
            }
            .into());
        };
        let (u, phase) = (self.id, Phase::MaskedInput);
        let mut held: BTreeMap<PartyId, SharePayload> = BTreeMap::new();
        held.insert(u, own.clone());
        for message in inbox {
            let Some(key) = share_keys.get(&message.from) else {
                return Err(self.reject(phase, "a share from a party outside the roster"));
            };
            if message.to != u || held.contains_key(&message.from) {
                return Err(self.reject(phase, "a misaddressed or duplicated share"));
            }
            let payload = envelope::open(key, &self.session, message)?;
            held.insert(message.from, payload);
        }
        let threshold = self.params.threshold();
        if held.len() < threshold {
            return Err(ProtocolAbort::TooFewSurvivors {
                phase,
                alive: held.len(),
                threshold,
            }
            .into());
        }

        let session = self.session;
        let masking = self.masking.x25519_secret();
        let peers: Vec<&AdvertiseKeys> = roster
            .iter()
            .filter(|e| e.from != u && held.contains_key(&e.from))
            .collect();
        let pair_seeds: Vec<(MaskSeed, Sign)> = peers
            .par_iter()
            .map(|e| {
                let shared = keys::agree(&masking, &e.keys.masking, e.from)?;
                let sign = if e.from > u { Sign::Plus } else { Sign::Minus };
                Ok((keys::pair_mask_seed(&shared, &session, u, e.from), sign))
            })
            .collect::<Result<_, SecAggError>>()?;
        let self_mask = keys::self_mask_seed(&self.self_seed, &session, u);
        let mut masks: Vec<(&MaskSeed, Sign)> = vec![(&self_mask, Sign::Plus)];
        masks.extend(pair_seeds.iter().map(|(s, sign)| (s, *sign)));
        let mut masked = std::mem::take(&mut self.input);
        prg::accumulate(&mut masked, &[], &masks);
        self.state = State::Masked { held };
        Ok(MaskedInput { from: u, masked })
    }

    /// Round 3: for each survivor, its share of b; for each dropped party, its share of s_sk.
    /// Refuses a request that lists a party both ways, lists this party as dropped, names
    /// parties it holds no shares of, leaves some out, or has fewer than t survivors. Answers
    /// once.
    pub fn unmask(&mut self, request: &UnmaskRequest) -> Result<UnmaskResponse, SecAggError> {
        let State::Masked { held } = &self.state else {
            return Err(ProtocolAbort::OutOfOrder { step: "unmask" }.into());
        };
        let (u, phase) = (self.id, Phase::Unmask);
        if let Some(&party) = request
            .survivors
            .iter()
            .find(|p| request.dropped.contains(p))
        {
            return Err(ProtocolAbort::AliveAndDropped { client: u, party }.into());
        }
        if request.dropped.contains(&u) || !request.survivors.contains(&u) {
            return Err(self.reject(phase, "this party is not listed as a survivor"));
        }
        let listed = request.survivors.iter().chain(&request.dropped);
        let mut sorted: Vec<PartyId> = listed.copied().collect();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != request.survivors.len() + request.dropped.len()
            || !sorted.iter().copied().eq(held.keys().copied())
        {
            return Err(self.reject(
                phase,
                "the survivors and dropped parties are not the parties this one holds shares of",
            ));
        }
        let threshold = self.params.threshold();
        if request.survivors.len() < threshold {
            return Err(ProtocolAbort::TooFewSurvivors {
                phase,
                alive: request.survivors.len(),
                threshold,
            }
            .into());
        }
        let response = UnmaskResponse {
            from: u,
            self_seed_shares: request
                .survivors
                .iter()
                .map(|v| (*v, held[v].self_seed.clone()))
                .collect(),
            mask_key_shares: request
                .dropped
                .iter()
                .map(|v| (*v, held[v].mask_key.clone()))
                .collect(),
        };
        self.state = State::Done;
        Ok(response)
    }
}
