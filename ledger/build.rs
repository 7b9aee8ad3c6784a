//! `sqlx::migrate!` embeds the migrations at compile time; without this a migration added to an
//! already built crate is silently left out of the binary (and then refused as "unknown" by a
//! database another build migrated).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
