//! Seccomp: the OCI spec's `linux.seccomp` compiled to classic BPF, in pure Rust.
//!
//! [`SeccompProgram::compile`] turns an [`oci_spec::runtime::LinuxSeccomp`] into a
//! classic-BPF program the way runc does through libseccomp, and
//! [`SeccompProgram::load`] installs it without allocating, so it can run between clone
//! and execve.
//!
//! # The program
//! ```text
//!   ld  seccomp_data.arch
//!   jeq AUDIT_ARCH_<a>  -> block a          (one per architecture in the filter)
//!   ret <bad arch action>                   (SECCOMP_RET_KILL_THREAD, as libseccomp)
//! block a:
//!   ld  seccomp_data.nr
//!   [x86_64 only] jge 0x40000000 -> ret <bad arch action>   (x32 syscalls)
//!   [ENOSYS stub]  jgt <largest nr named> -> ret ERRNO(ENOSYS)
//!   jeq nr_1 -> action or rule block        (one compare per syscall, in chunks of
//!   jeq nr_2 -> ...                          128 each followed by the `ret` of the
//!   ret <default action>                     actions they use, so jumps stay short)
//! rule block of a syscall:
//!   the rules in spec order, each the AND of its argument conditions, the first rule
//!   that matches returns its action; if none does, the default action
//! ```
//! Conditional jumps whose offset would not fit the 8-bit `jt`/`jf` fields are relaxed by
//! the assembler into a short jump over a `ja` (32-bit offset).
//!
//! # Behaviour (runc + libseccomp, and where we differ)
//! - Actions map as runc's `getAction`: `SCMP_ACT_KILL` is `KILL_THREAD`; `SCMP_ACT_ERRNO`
//!   and `SCMP_ACT_TRACE` carry `errnoRet` (`defaultErrnoRet` for the default action) and
//!   EPERM when it is absent. `SCMP_ACT_NOTIFY` is rejected: no listener support yet.
//! - A rule whose action equals the default action is skipped, as runc does.
//! - Syscall names unknown for an architecture are skipped for that architecture.
//! - Conditions of a rule are ANDed; when two conditions of one rule name the same
//!   argument, each condition becomes its own rule (ORed), as runc does.
//!   `SCMP_CMP_MASKED_EQ` matches `(arg & value) == valueTwo`. On 64-bit ABIs both 32-bit
//!   halves are compared; on 32-bit ABIs (x86, arm) only the low half, as libseccomp does.
//! - Several rules for one syscall: the first matching rule in spec order wins, and an
//!   unconditional rule ends the list (libseccomp merges rules into a tree instead; the
//!   result is the same for non-conflicting profiles such as Docker's).
//! - The bad-architecture action is `SECCOMP_RET_KILL_THREAD`, libseccomp's default,
//!   which runc keeps.
//! - Like runc's `patchbpf`, when the default action is not ALLOW/LOG and
//!   `defaultErrnoRet` is not ENOSYS, syscall numbers above the largest one the profile
//!   names for an architecture return ENOSYS, so that newer syscalls fail the way an older
//!   kernel would and libc falls back.
//! - Architectures: the native one is always in the filter; listed ones that this host's
//!   kernel can run (x86 on x86_64, arm on aarch64) get their own block with their own
//!   syscall numbers. Others are skipped: the kernel never reports them here.
//! - **Deviation:** x32 (`SCMP_ARCH_X32`) has no syscall table here, so x32 syscalls always
//!   get the bad-architecture action, listed or not. Approximating its table would let an
//!   x32 process slip past a deny-list (x32 has its own numbers for e.g. `ptrace`).

use std::collections::BTreeMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

use crate::{Error, Result};

// Classic BPF opcodes (linux/bpf_common.h).
const BPF_LD_W_ABS: u16 = 0x00 | 0x00 | 0x20;
const BPF_ALU_AND_K: u16 = 0x04 | 0x50 | 0x00;
const BPF_JMP_JA: u16 = 0x05 | 0x00;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10 | 0x00;
const BPF_JMP_JGT_K: u16 = 0x05 | 0x20 | 0x00;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30 | 0x00;
const BPF_RET_K: u16 = 0x06 | 0x00;

/// The kernel's limit on the length of a classic-BPF program.
const BPF_MAXINSNS: usize = 4096;

// Offsets into `struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; }`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// x32 syscalls are x86_64 syscalls with this bit set in `nr`.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
/// What a syscall of an architecture not in the filter gets (libseccomp's default).
const RET_BAD_ARCH: u32 = RET_KILL_THREAD;

/// Syscalls per dispatch chunk; keeps `jeq` offsets to the chunk's `ret`s under 256.
const CHUNK: usize = 128;

const FLAG_TSYNC: u32 = 1 << 0;
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;

/// A compiled filter, ready to load.
#[derive(Debug, Clone)]
pub struct SeccompProgram {
    filter: Vec<libc::sock_filter>,
    flags: u32,
}

impl SeccompProgram {
    /// Compiles the spec's seccomp section for the host architecture.
    ///
    /// See the [module docs](self) for the layout and the rules followed.
    ///
    /// # Errors
    /// [`Error::Seccomp`] naming the field or syscall at fault: an unsupported action
    /// (`SCMP_ACT_NOTIFY`) or flag, an argument index above 5, an `errnoRet` that does not
    /// fit the 16-bit return data, an empty syscall name, or a program longer than the
    /// kernel's 4096 instructions.
    pub fn compile(spec: &LinuxSeccomp) -> Result<Self> {
        let flags = compile_flags(spec)?;
        let default = action_value(
            spec.default_action(),
            spec.default_errno_ret(),
            "defaultAction",
        )?;
        let native = Abi::native().ok_or_else(|| {
            seccomp_err("seccomp filters are not supported on this host architecture")
        })?;

        // The architectures in the filter: the native one first, then those listed that
        // this host can run, without repeats.
        let mut abis = vec![native];
        for arch in spec.architectures().iter().flatten() {
            if let Some(abi) = Abi::from_spec(*arch, native) {
                if !abis.contains(&abi) {
                    abis.push(abi);
                }
            }
        }

        let mut tables: Vec<AbiRules> = abis.iter().map(|&abi| AbiRules::new(abi)).collect();
        for (i, call) in spec.syscalls().iter().flatten().enumerate() {
            let ctx = || match call.names().first() {
                Some(name) => format!("syscalls[{i}] ({name})"),
                None => format!("syscalls[{i}]"),
            };
            let action = action_value(call.action(), call.errno_ret(), &ctx())?;
            let rules = rules_of(call.args().as_deref().unwrap_or(&[]), action, &ctx)?;
            for (j, name) in call.names().iter().enumerate() {
                if name.is_empty() {
                    return Err(seccomp_err(format!("{}: names[{j}] is empty", ctx())));
                }
                for table in &mut tables {
                    table.add(name, &rules, action == default);
                }
            }
        }

        let enosys_stub = !matches!(
            spec.default_action(),
            LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
        ) && spec.default_errno_ret() != Some(libc::ENOSYS as u32);

        let filter = generate(&tables, default, enosys_stub)?;
        if filter.len() > BPF_MAXINSNS {
            return Err(seccomp_err(format!(
                "the filter needs {} instructions, more than the kernel's limit of {BPF_MAXINSNS}",
                filter.len()
            )));
        }
        Ok(Self { filter, flags })
    }

    /// The BPF instructions (for tests, dumps).
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.filter
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits from the spec's `flags`.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Loads the filter into the calling thread.
    ///
    /// Makes no allocation and takes no lock: it is meant for a freshly cloned child
    /// between clone and execve. It does not set `no_new_privs`; without it (or
    /// `CAP_SYS_ADMIN`) the kernel refuses the filter with EACCES.
    ///
    /// Uses `seccomp(SECCOMP_SET_MODE_FILTER, flags, ..)`, falling back to
    /// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ..)` when the kernel lacks seccomp(2)
    /// and no flags are asked for.
    ///
    /// # Errors
    /// The errno of the failed call. With `SECCOMP_FILTER_FLAG_TSYNC`, a thread that could
    /// not be synchronized is reported as `ESRCH`.
    pub fn load(&self) -> std::result::Result<(), i32> {
        let Ok(len) = u16::try_from(self.filter.len()) else {
            return Err(libc::EINVAL);
        };
        let prog = libc::sock_fprog {
            len,
            filter: self.filter.as_ptr().cast_mut(),
        };
        let prog_ptr: *const libc::sock_fprog = &prog;

        // Install the filter; the kernel copies the program before returning.
        // SAFETY: `prog` lives on this stack frame for the whole call and points at
        // `len` initialized instructions that the kernel only reads.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
                libc::c_ulong::from(self.flags),
                prog_ptr,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        if rc > 0 {
            // TSYNC: `rc` is the id of a thread that could not be synchronized.
            return Err(libc::ESRCH);
        }
        let errno = last_errno();
        if errno != libc::ENOSYS || self.flags != 0 {
            return Err(errno);
        }

        // Kernels before 3.17 have no seccomp(2); prctl takes the same program.
        // SAFETY: as above, `prog` outlives the call and is only read by the kernel.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::c_ulong::from(libc::SECCOMP_MODE_FILTER),
                prog_ptr,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(last_errno())
        }
    }
}

/// The calling thread's errno, read without allocating.
fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

fn seccomp_err(reason: impl Into<String>) -> Error {
    Error::Seccomp {
        reason: reason.into(),
    }
}

fn compile_flags(spec: &LinuxSeccomp) -> Result<u32> {
    let mut flags = 0;
    for flag in spec.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(seccomp_err(
                    "flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs SCMP_ACT_NOTIFY, \
                     which is not supported",
                ))
            }
        };
    }
    Ok(flags)
}

/// The `SECCOMP_RET_*` value of an action, as runc's `getAction` builds it.
fn action_value(action: LinuxSeccompAction, errno_ret: Option<u32>, ctx: &str) -> Result<u32> {
    let data = || -> Result<u32> {
        match errno_ret {
            None => Ok(libc::EPERM as u32),
            Some(v) if v <= 0xffff => Ok(v),
            Some(v) => Err(seccomp_err(format!(
                "{ctx}: errnoRet {v} does not fit the 16-bit return data"
            ))),
        }
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => RET_KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => RET_ERRNO | data()?,
        LinuxSeccompAction::ScmpActTrace => RET_TRACE | data()?,
        LinuxSeccompAction::ScmpActLog => RET_LOG,
        LinuxSeccompAction::ScmpActAllow => RET_ALLOW,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(seccomp_err(format!(
                "{ctx}: SCMP_ACT_NOTIFY is not supported (no seccomp listener yet)"
            )))
        }
    })
}

/// A comparison of one syscall argument.
#[derive(Debug, Clone, Copy)]
struct Cond {
    index: u32,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: u64,
}

/// Conditions ANDed, and the action when they all hold.
#[derive(Debug, Clone)]
struct Rule {
    conds: Vec<Cond>,
    action: u32,
}

/// The rules one spec entry makes: one with all its conditions, or (when two conditions
/// name the same argument) one per condition, as runc does.
fn rules_of(args: &[LinuxSeccompArg], action: u32, ctx: &dyn Fn() -> String) -> Result<Vec<Rule>> {
    let mut conds = Vec::with_capacity(args.len());
    let mut seen = [0usize; 6];
    for (k, arg) in args.iter().enumerate() {
        let index = arg.index();
        if index > 5 {
            return Err(seccomp_err(format!(
                "{}: args[{k}].index {index} is out of range (a syscall has arguments 0 to 5)",
                ctx()
            )));
        }
        seen[index] += 1;
        conds.push(Cond {
            index: index as u32,
            op: arg.op(),
            value: arg.value(),
            value_two: arg.value_two().unwrap_or(0),
        });
    }
    if seen.iter().any(|&n| n > 1) {
        Ok(conds
            .into_iter()
            .map(|c| Rule {
                conds: vec![c],
                action,
            })
            .collect())
    } else {
        Ok(vec![Rule { conds, action }])
    }
}

/// A syscall ABI we have a table for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abi {
    X86_64,
    X86,
    Aarch64,
    Arm,
}

impl Abi {
    fn native() -> Option<Self> {
        if cfg!(target_arch = "x86_64") {
            Some(Self::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Self::Aarch64)
        } else {
            None
        }
    }

    /// The ABI a spec architecture names, if this host's kernel can run it.
    fn from_spec(arch: Arch, native: Self) -> Option<Self> {
        let abi = match arch {
            Arch::ScmpArchNative => native,
            Arch::ScmpArchX86_64 => Self::X86_64,
            Arch::ScmpArchX86 => Self::X86,
            Arch::ScmpArchAarch64 => Self::Aarch64,
            Arch::ScmpArchArm => Self::Arm,
            // x32 has no table (see the module docs); the rest never run on this host.
            _ => return None,
        };
        let runs_here = match native {
            Self::X86_64 => matches!(abi, Self::X86_64 | Self::X86),
            Self::Aarch64 => matches!(abi, Self::Aarch64 | Self::Arm),
            _ => abi == native,
        };
        runs_here.then_some(abi)
    }

    fn audit_arch(self) -> u32 {
        match self {
            Self::X86_64 => AUDIT_ARCH_X86_64,
            Self::X86 => AUDIT_ARCH_I386,
            Self::Aarch64 => AUDIT_ARCH_AARCH64,
            Self::Arm => AUDIT_ARCH_ARM,
        }
    }

    fn is_64bit(self) -> bool {
        matches!(self, Self::X86_64 | Self::Aarch64)
    }

    /// The syscall number of `name` in this ABI, if it has one.
    fn syscall_nr(self, name: &str) -> Option<u32> {
        let nr = match self {
            Self::X86_64 => name.parse::<syscalls::x86_64::Sysno>().ok()?.id(),
            Self::X86 => name.parse::<syscalls::x86::Sysno>().ok()?.id(),
            Self::Aarch64 => name.parse::<syscalls::aarch64::Sysno>().ok()?.id(),
            Self::Arm => name.parse::<syscalls::arm::Sysno>().ok()?.id(),
        };
        u32::try_from(nr).ok()
    }
}

/// The rules of one ABI, by syscall number.
#[derive(Debug)]
struct AbiRules {
    abi: Abi,
    by_nr: BTreeMap<u32, Vec<Rule>>,
    /// The largest syscall number the profile names (for the ENOSYS stub).
    max_nr: Option<u32>,
}

impl AbiRules {
    fn new(abi: Abi) -> Self {
        Self {
            abi,
            by_nr: BTreeMap::new(),
            max_nr: None,
        }
    }

    fn add(&mut self, name: &str, rules: &[Rule], same_as_default: bool) {
        let Some(nr) = self.abi.syscall_nr(name) else {
            return;
        };
        self.max_nr = self.max_nr.max(Some(nr));
        if same_as_default {
            return;
        }
        let list = self.by_nr.entry(nr).or_default();
        // After an unconditional rule nothing more can match.
        if list.last().is_some_and(|r| r.conds.is_empty()) {
            return;
        }
        list.extend_from_slice(rules);
    }
}

fn generate(
    tables: &[AbiRules],
    default: u32,
    enosys_stub: bool,
) -> Result<Vec<libc::sock_filter>> {
    let mut asm = Asm::default();
    asm.ld(OFF_ARCH);
    let blocks: Vec<Label> = tables.iter().map(|_| asm.label()).collect();
    for (table, &block) in tables.iter().zip(&blocks) {
        asm.jump(
            BPF_JMP_JEQ_K,
            table.abi.audit_arch(),
            Target::Label(block),
            Target::Next,
        );
    }
    asm.ret(RET_BAD_ARCH);

    for (table, &block) in tables.iter().zip(&blocks) {
        asm.place(block);
        asm.ld(OFF_NR);
        if table.abi == Abi::X86_64 {
            let native = asm.label();
            asm.jump(
                BPF_JMP_JGE_K,
                X32_SYSCALL_BIT,
                Target::Next,
                Target::Label(native),
            );
            asm.ret(RET_BAD_ARCH);
            asm.place(native);
        }
        if let (true, Some(max)) = (enosys_stub, table.max_nr) {
            let known = asm.label();
            asm.jump(BPF_JMP_JGT_K, max, Target::Next, Target::Label(known));
            asm.ret(RET_ERRNO | libc::ENOSYS as u32);
            asm.place(known);
        }
        let entries: Vec<(&u32, &Vec<Rule>)> = table.by_nr.iter().collect();
        let chunks: Vec<_> = entries.chunks(CHUNK).collect();
        for (c, chunk) in chunks.iter().enumerate() {
            let mut rets: Vec<(u32, Label)> = Vec::new();
            let mut rule_blocks: Vec<(Label, &Vec<Rule>)> = Vec::new();
            for &(&nr, rules) in chunk.iter() {
                let target = match rules.as_slice() {
                    [] => continue,
                    [only] if only.conds.is_empty() => {
                        match rets.iter().find(|(action, _)| *action == only.action) {
                            Some(&(_, label)) => label,
                            None => {
                                let label = asm.label();
                                rets.push((only.action, label));
                                label
                            }
                        }
                    }
                    _ => {
                        let label = asm.label();
                        rule_blocks.push((label, rules));
                        label
                    }
                };
                asm.jump(BPF_JMP_JEQ_K, nr, Target::Label(target), Target::Next);
            }
            let next_chunk = asm.label();
            if c + 1 == chunks.len() {
                asm.ret(default);
            } else {
                asm.ja(next_chunk);
            }
            for (action, label) in rets {
                asm.place(label);
                asm.ret(action);
            }
            for (label, rules) in rule_blocks {
                asm.place(label);
                for rule in rules {
                    let next_rule = asm.label();
                    for cond in &rule.conds {
                        emit_cond(&mut asm, table.abi, cond, next_rule);
                    }
                    asm.ret(rule.action);
                    asm.place(next_rule);
                }
                asm.ret(default);
            }
            asm.place(next_chunk);
        }
        if entries.is_empty() {
            asm.ret(default);
        }
    }
    asm.finish()
}

/// Emits the test of one condition: falls through when it holds, jumps to `fail` when not.
fn emit_cond(asm: &mut Asm, abi: Abi, cond: &Cond, fail: Label) {
    use LinuxSeccompOperator as Op;
    let off = OFF_ARGS + 8 * cond.index;
    let (lo_off, hi_off) = if cfg!(target_endian = "little") {
        (off, off + 4)
    } else {
        (off + 4, off)
    };
    let pass = asm.label();
    let (p, f) = (Target::Label(pass), Target::Label(fail));
    let n = Target::Next;
    let (datum, mask) = match cond.op {
        Op::ScmpCmpMaskedEq => (cond.value_two, cond.value),
        _ => (cond.value, u64::MAX),
    };
    let (d_hi, d_lo) = ((datum >> 32) as u32, datum as u32);
    let (m_hi, m_lo) = ((mask >> 32) as u32, mask as u32);

    if abi.is_64bit() {
        // The high halves decide unless they are equal; then the low halves do.
        asm.ld(hi_off);
        match cond.op {
            Op::ScmpCmpEq => asm.jump(BPF_JMP_JEQ_K, d_hi, n, f),
            Op::ScmpCmpNe => asm.jump(BPF_JMP_JEQ_K, d_hi, n, p),
            Op::ScmpCmpGt | Op::ScmpCmpGe => {
                asm.jump(BPF_JMP_JGT_K, d_hi, p, n);
                asm.jump(BPF_JMP_JEQ_K, d_hi, n, f);
            }
            Op::ScmpCmpLt | Op::ScmpCmpLe => {
                asm.jump(BPF_JMP_JGT_K, d_hi, f, n);
                asm.jump(BPF_JMP_JEQ_K, d_hi, n, p);
            }
            Op::ScmpCmpMaskedEq => {
                asm.and(m_hi);
                asm.jump(BPF_JMP_JEQ_K, d_hi, n, f);
            }
        }
    }
    asm.ld(lo_off);
    match cond.op {
        Op::ScmpCmpEq => asm.jump(BPF_JMP_JEQ_K, d_lo, p, f),
        Op::ScmpCmpNe => asm.jump(BPF_JMP_JEQ_K, d_lo, f, p),
        Op::ScmpCmpGt => asm.jump(BPF_JMP_JGT_K, d_lo, p, f),
        Op::ScmpCmpGe => asm.jump(BPF_JMP_JGE_K, d_lo, p, f),
        Op::ScmpCmpLt => asm.jump(BPF_JMP_JGE_K, d_lo, f, p),
        Op::ScmpCmpLe => asm.jump(BPF_JMP_JGT_K, d_lo, f, p),
        Op::ScmpCmpMaskedEq => {
            asm.and(m_lo);
            asm.jump(BPF_JMP_JEQ_K, d_lo, p, f);
        }
    }
    asm.place(pass);
}

/// A forward jump target.
type Label = usize;

#[derive(Debug, Clone, Copy)]
enum Target {
    /// The instruction after this jump.
    Next,
    Label(Label),
}

#[derive(Debug)]
enum Item {
    Stmt {
        code: u16,
        k: u32,
    },
    Jump {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Ja(Label),
    Place(Label),
}

/// A tiny classic-BPF assembler with forward labels and long-jump relaxation.
#[derive(Debug, Default)]
struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }
    fn place(&mut self, label: Label) {
        self.items.push(Item::Place(label));
    }
    fn ld(&mut self, offset: u32) {
        self.items.push(Item::Stmt {
            code: BPF_LD_W_ABS,
            k: offset,
        });
    }
    fn and(&mut self, k: u32) {
        self.items.push(Item::Stmt {
            code: BPF_ALU_AND_K,
            k,
        });
    }
    fn ret(&mut self, k: u32) {
        self.items.push(Item::Stmt { code: BPF_RET_K, k });
    }
    fn ja(&mut self, label: Label) {
        self.items.push(Item::Ja(label));
    }
    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Jump { code, k, jt, jf });
    }

    /// Lays the program out. A conditional jump whose target is more than 255
    /// instructions away jumps to a `ja` placed right after it instead; as that only
    /// grows the program, repeating until nothing changes terminates.
    fn finish(self) -> Result<Vec<libc::sock_filter>> {
        let n = self.items.len();
        // Per item: (true branch long, false branch long).
        let mut long = vec![(false, false); n];
        let mut pos = vec![0usize; n];
        let mut at = vec![usize::MAX; self.labels];
        loop {
            let mut p = 0;
            for (i, item) in self.items.iter().enumerate() {
                pos[i] = p;
                p += match item {
                    Item::Place(label) => {
                        at[*label] = p;
                        0
                    }
                    Item::Jump { .. } => 1 + usize::from(long[i].0) + usize::from(long[i].1),
                    _ => 1,
                };
            }
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Jump { jt, jf, .. } = item {
                    let size = 1 + usize::from(long[i].0) + usize::from(long[i].1);
                    let resolve = |t: &Target| match t {
                        Target::Next => pos[i] + size,
                        Target::Label(l) => at[*l],
                    };
                    let too_far = |t: usize| t.saturating_sub(pos[i] + 1) > 255;
                    if !long[i].0 && too_far(resolve(jt)) {
                        long[i].0 = true;
                        changed = true;
                    }
                    if !long[i].1 && too_far(resolve(jf)) {
                        long[i].1 = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }

        let internal =
            |what: &str| seccomp_err(format!("internal error in the BPF assembler: {what}"));
        let forward = |from: usize, to: usize| -> Result<u32> {
            // `from` is the address of the next instruction.
            if to < from || to == usize::MAX {
                return Err(internal("backward or unplaced jump"));
            }
            u32::try_from(to - from).map_err(|_| internal("jump too long"))
        };
        let mut out = Vec::with_capacity(pos.last().copied().unwrap_or(0) + 2);
        for (i, item) in self.items.iter().enumerate() {
            let p = pos[i];
            match item {
                Item::Place(_) => {}
                Item::Stmt { code, k } => out.push(insn(*code, 0, 0, *k)),
                Item::Ja(label) => out.push(insn(BPF_JMP_JA, 0, 0, forward(p + 1, at[*label])?)),
                Item::Jump { code, k, jt, jf } => {
                    let (lt, lf) = long[i];
                    let size = 1 + usize::from(lt) + usize::from(lf);
                    let resolve = |t: &Target| match t {
                        Target::Next => p + size,
                        Target::Label(l) => at[*l],
                    };
                    let (t, f) = (resolve(jt), resolve(jf));
                    // Addresses of the trampolines, if any.
                    let ja_t = p + 1;
                    let ja_f = p + 1 + usize::from(lt);
                    let short = |to: usize| -> Result<u8> {
                        u8::try_from(forward(p + 1, to)?)
                            .map_err(|_| internal("short jump too long"))
                    };
                    let jt_off = short(if lt { ja_t } else { t })?;
                    let jf_off = short(if lf { ja_f } else { f })?;
                    out.push(insn(*code, jt_off, jf_off, *k));
                    if lt {
                        out.push(insn(BPF_JMP_JA, 0, 0, forward(ja_t + 1, t)?));
                    }
                    if lf {
                        out.push(insn(BPF_JMP_JA, 0, 0, forward(ja_f + 1, f)?));
                    }
                }
            }
        }
        Ok(out)
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}
