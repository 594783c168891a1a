// The stage1 executable is position-independent, with its relative
// relocations packed (DT_RELR), like rkt's: see "Position-independent
// executables" in ARCHITECTURE.md.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
