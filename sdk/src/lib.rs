//! The ACME process SDK: the shared building blocks every process is written with.
//!
//! Today it holds the money primitives that every boundary (CLI, ledger, activities) parses
//! amounts with; the process description, catalog, activity presets and test kit join it as the
//! platform grows (see `docs/architecture.md`).

pub mod asset;
pub mod money;

pub use asset::{AssetCode, AssetCodeError};
pub use money::{AmountError, Sign, checked_sum, parse_amount};
