//! Scale-MIA (Shi, Ugulino, Shrivastava & Jin, NDSS 2025, "Scale-MIA: A Scalable Model
//! Inversion Attack against Secure Federated Learning via Latent Space Reconstruction"): the
//! imprint attack of Fowl et al. 2022 (`attacks::imprint`) moved onto a latent space.
//!
//! The malicious server trains an autoencoder on its auxiliary data, replaces the global MLP's
//! first layer by the encoder, and plants the imprint block on that layer's output. The rows'
//! gradient in the secure aggregate then gives back, exactly, the latent of every sample alone
//! in its bin, and the decoder turns it into an image. The block measures h latent coordinates
//! instead of d pixels: far fewer parameters per bin, and a statistic the encoder has shaped.
//!
//! - [`autoencoder`]: the encoder (the MLP's first-layer shape) and decoder, trained with Adam;
//! - [`plant`]: the server that plants them and keeps direction, cut-offs and decoder secret;
//! - [`view`]: what the attack sees (the released aggregate and those secrets);
//! - [`attack`]: the imprint differencing, then the decoder.

pub mod attack;
pub mod autoencoder;
pub mod plant;
pub mod view;

pub use attack::ScaleMia;
pub use autoencoder::{
    AutoencoderOptions, Decoder, Encoder, EncoderShape, TrainedAutoencoder, pixels_of,
    train_autoencoder,
};
pub use plant::{ScaleMiaSecrets, ScaleMiaServer, latent_statistic, mean_direction};
pub use view::ScaleMiaView;
