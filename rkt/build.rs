// rkt is position-independent (it runs as root and parses network input),
// with its relative relocations packed (DT_RELR): see "Position-independent
// executables" in ARCHITECTURE.md.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
