//! The devices an app may use, and how each cgroup version enforces the
//! list: v1's `devices.allow` lines, or on v2 a cgroup device program
//! (eBPF, as runc and crun attach) run by the kernel at every open and
//! mknod of a device node.

/// A device type, as both versions number it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Block,
    Char,
}

/// One rule: a device (or any, with `None`) and the accesses allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub mknod: bool,
    pub read_write: bool,
}

const fn char_dev(major: u32, minor: Option<u32>) -> Rule {
    Rule {
        kind: Kind::Char,
        major: Some(major),
        minor,
        mknod: true,
        read_write: true,
    }
}

/// The only nodes that may be made or opened: null, zero, full, random,
/// urandom, tty, ptmx and the pod's own /dev/pts (136: a pty node made
/// outside a devpts opens nothing). Not the host's console (5:1: an
/// interactive pod's console is its own pty), the legacy BSD ptys (2 and
/// 3), or any disk: a node made in a host volume would reach the device
/// from the host's side, where no list holds.
pub const ALLOWED: [Rule; 8] = [
    char_dev(1, Some(3)),
    char_dev(1, Some(5)),
    char_dev(1, Some(7)),
    char_dev(1, Some(8)),
    char_dev(1, Some(9)),
    char_dev(5, Some(0)),
    char_dev(5, Some(2)),
    char_dev(136, None),
];

impl Rule {
    /// The rule as a v1 `devices.allow` line.
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            Kind::Block => 'b',
            Kind::Char => 'c',
        };
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let access = match (self.read_write, self.mknod) {
            (true, true) => "rwm",
            (true, false) => "rw",
            (false, _) => "m",
        };
        format!("{kind} {}:{} {access}", num(self.major), num(self.minor))
    }
}

/// One eBPF instruction, as `struct bpf_insn` lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU64_AND_K: u8 = 0x57; // dst &= imm
const ALU64_RSH_K: u8 = 0x77; // dst >>= imm
const ALU64_MOV_X: u8 = 0xbf; // dst = src
const ALU64_MOV_K: u8 = 0xb7; // dst = imm
const JMP_JNE_K: u8 = 0x55; // if dst != imm: pc += off
const JMP_EXIT: u8 = 0x95;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// The context (`struct bpf_cgroup_dev_ctx`) and its encoding.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// The program allowing exactly `rules`: it returns 1 (allow) at the
/// first rule that matches the device and grants every access asked
/// for, else 0 (deny).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, CTX_ACCESS_TYPE, 0),
        insn(ALU64_MOV_X, 3, 2, 0, 0),
        insn(ALU64_AND_K, 2, 0, 0, 0xffff),
        insn(ALU64_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, CTX_MAJOR, 0),
        insn(LDX_MEM_W, 5, 1, CTX_MINOR, 0),
    ];
    for rule in rules {
        let mut granted = 0;
        if rule.mknod {
            granted |= ACC_MKNOD;
        }
        if rule.read_write {
            granted |= ACC_READ | ACC_WRITE;
        }
        let kind = match rule.kind {
            Kind::Block => DEV_BLOCK,
            Kind::Char => DEV_CHAR,
        };
        // Each test jumps to the next rule (off is patched below).
        let mut block = vec![insn(JMP_JNE_K, 2, 0, 0, kind)];
        if let Some(major) = rule.major {
            block.push(insn(JMP_JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push(insn(JMP_JNE_K, 5, 0, 0, minor as i32));
        }
        // r6 = the accesses asked for that this rule does not grant.
        block.push(insn(ALU64_MOV_X, 6, 3, 0, 0));
        block.push(insn(ALU64_AND_K, 6, 0, 0, !granted & 0xffff));
        block.push(insn(JMP_JNE_K, 6, 0, 0, 0));
        block.push(insn(ALU64_MOV_K, 0, 0, 0, 1));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JMP_JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
    prog
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `prog` as the kernel would on one request (only the
    /// instructions `program` emits).
    fn run(prog: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((access << 16) | kind) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU64_MOV_X => r[dst] = r[src],
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                ALU64_AND_K => r[dst] &= i.imm as i64 as u64,
                ALU64_RSH_K => r[dst] >>= i.imm,
                JMP_JNE_K => {
                    if r[dst] != i.imm as i64 as u64 {
                        pc += i.off as usize;
                    }
                }
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_program_allows_exactly_the_list() {
        let prog = program(&ALLOWED);
        let rw = ACC_READ | ACC_WRITE;
        // Opening and making the safe character devices, the pty slaves.
        assert_eq!(run(&prog, DEV_CHAR, rw, 1, 3), 1);
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 1, 9), 1);
        assert_eq!(run(&prog, DEV_CHAR, rw, 136, 7), 1);
        assert_eq!(run(&prog, DEV_CHAR, ACC_MKNOD, 1, 3), 1);
        assert_eq!(run(&prog, DEV_CHAR, ACC_MKNOD | rw, 5, 2), 1);
        // Not anything else: a disk, /dev/mem, kmsg, a tty, the host's
        // console, the legacy ptys.
        assert_eq!(run(&prog, DEV_BLOCK, ACC_READ, 8, 0), 0);
        assert_eq!(run(&prog, DEV_BLOCK, ACC_MKNOD, 8, 0), 0);
        assert_eq!(run(&prog, DEV_BLOCK, rw, 254, 0), 0);
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 1, 1), 0);
        assert_eq!(run(&prog, DEV_CHAR, ACC_MKNOD, 1, 1), 0);
        assert_eq!(run(&prog, DEV_CHAR, ACC_WRITE, 1, 11), 0);
        assert_eq!(run(&prog, DEV_CHAR, rw, 4, 1), 0);
        for (major, minor) in [(5, 1), (2, 0), (3, 0)] {
            assert_eq!(run(&prog, DEV_CHAR, rw, major, minor), 0);
            assert_eq!(run(&prog, DEV_CHAR, ACC_MKNOD, major, minor), 0);
        }
    }

    #[test]
    fn v1_lines() {
        let lines: Vec<String> = ALLOWED.iter().map(Rule::v1_line).collect();
        assert_eq!(lines[0], "c 1:3 rwm");
        assert_eq!(lines[7], "c 136:* rwm");
        assert!(
            !lines
                .iter()
                .any(|l| l.contains('*') && !l.starts_with("c 136:"))
        );
    }
}
