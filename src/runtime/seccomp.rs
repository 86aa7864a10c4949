//! Seccomp: the OCI spec's `linux.seccomp` compiled to classic BPF, in pure Rust.
//!
//! [`compile`] turns an [`oci_spec::runtime::LinuxSeccomp`] into a classic-BPF
//! [`SeccompProgram`] the way runc does through libseccomp;
//! [`SeccompProgram::load`](crate::sys::seccomp::SeccompProgram::load) installs it without
//! allocating, so it can run between clone and execve.
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
//!   jge s_m -> (upper half) : (lower half)  a balanced binary search on the first
//!   ...                                     numbers s_i of the runs of consecutive
//!                                           numbers that lead to the same outcome
//!   ret <action>                            (one per action used)
//! rule block of a syscall (shared by syscalls with the same rules):
//!   the rules in spec order, each the AND of its argument conditions, the first rule
//!   that matches returns its action; if none does, the default action
//! ```
//! The search is libseccomp's binary-tree optimisation applied to ranges: Docker's
//! default profile makes about 60 runs on x86_64, so a syscall takes about 6 compares
//! (the old linear chain of one `jeq` per named syscall took up to 360) and the program
//! shrinks from 779 to 288 instructions. Both matter: the kernel runs the filter on every
//! syscall, and at load time it emulates it for every syscall number to build its cache
//! of always-allowed syscalls. [`compile`] also keeps the last few programs it made, by
//! spec: an engine loads the same profile into container after container.
//!
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
//!   `SCMP_CMP_MASKED_EQ` matches `(arg & value) == valueTwo` (libseccomp's datum A is
//!   the mask). On 64-bit ABIs both 32-bit halves are compared; on 32-bit ABIs (x86, arm)
//!   only the low half, against the low 32 bits of the value (the kernel zero-extends
//!   a 32-bit task's arguments).
//! - Several rules for one syscall: the first matching rule in spec order wins, and an
//!   unconditional rule ends the list (libseccomp merges rules into a tree instead; the
//!   result is the same for non-conflicting profiles such as Docker's).
//! - The bad-architecture action is `SECCOMP_RET_KILL_THREAD`, libseccomp's default,
//!   which runc keeps.
//! - Like runc's `patchbpf`, when the default action is not ALLOW, LOG or TRACE and
//!   `defaultErrnoRet` is not ENOSYS, syscall numbers above the largest one the profile
//!   names for an architecture return ENOSYS, so that syscalls newer than the profile fail
//!   the way an older kernel would and libc falls back.
//! - Architectures: the native one is always in the filter; listed ones that this host's
//!   kernel can run (x86 on x86_64, arm on aarch64) get their own block with their own
//!   syscall numbers. Others are skipped: the kernel never reports them here.
//! - **Deviation:** x32 (`SCMP_ARCH_X32`) has no syscall table here, so x32 syscalls always
//!   get the bad-architecture action, listed or not. Approximating its table would let an
//!   x32 process slip past a deny-list (x32 has its own numbers for e.g. `ptrace`).
//! - `listenerPath` and `listenerMetadata` are ignored: they only matter with
//!   `SCMP_ACT_NOTIFY`, which is refused.

use std::collections::BTreeMap;
use std::sync::Mutex;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

use crate::sys::seccomp::SeccompProgram;
use crate::{Error, Result};

// Classic BPF opcodes (linux/bpf_common.h), class | size/op | mode/source.
/// `BPF_LD | BPF_W | BPF_ABS`: A = 32-bit word at offset k of `seccomp_data`.
const BPF_LD_W_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`: A &= k.
const BPF_ALU_AND_K: u16 = 0x54;
/// `BPF_JMP | BPF_JA`: pc += k (32-bit offset).
const BPF_JMP_JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`: pc += (A == k) ? jt : jf.
const BPF_JMP_JEQ_K: u16 = 0x15;
/// `BPF_JMP | BPF_JGT | BPF_K`: pc += (A > k) ? jt : jf.
const BPF_JMP_JGT_K: u16 = 0x25;
/// `BPF_JMP | BPF_JGE | BPF_K`: pc += (A >= k) ? jt : jf.
const BPF_JMP_JGE_K: u16 = 0x35;
/// `BPF_RET | BPF_K`: return k.
const BPF_RET_K: u16 = 0x06;

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

const FLAG_TSYNC: u32 = 1 << 0;
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;

/// Compiles the spec's seccomp section for the host architecture.
///
/// See the [module docs](self) for the layout and the rules followed.
///
/// # Errors
/// [`Error::Seccomp`] naming the field or syscall at fault: an unsupported action
/// (`SCMP_ACT_NOTIFY`) or flag, an argument index above 5, an `errnoRet` that does not
/// fit the 16-bit return data, an empty syscall name, or a program longer than the
/// kernel's 4096 instructions.
pub fn compile(spec: &LinuxSeccomp) -> Result<SeccompProgram> {
    {
        let mut cache = CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(i) = cache.iter().position(|(s, _)| s == spec) {
            // Most recently used first.
            let hit = cache.remove(i);
            let prog = hit.1.clone();
            cache.insert(0, hit);
            return Ok(prog);
        }
    }
    // Compiled without the lock held: other threads may look up meanwhile.
    let prog = compile_with(spec, emit_tree)?;
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache.insert(0, (spec.clone(), prog.clone()));
    cache.truncate(CACHE_SIZE);
    Ok(prog)
}

/// Programs compiled lately, most recent first: an engine compiles the same few
/// profiles (Docker's default for the capability sets in use) for every container.
static CACHE: Mutex<Vec<(LinuxSeccomp, SeccompProgram)>> = Mutex::new(Vec::new());
const CACHE_SIZE: usize = 8;

fn compile_with(spec: &LinuxSeccomp, dispatch: Dispatch) -> Result<SeccompProgram> {
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
        // As runc: a tracer is expected to handle unknown syscalls itself.
        LinuxSeccompAction::ScmpActAllow
            | LinuxSeccompAction::ScmpActLog
            | LinuxSeccompAction::ScmpActTrace
    ) && spec.default_errno_ret() != Some(libc::ENOSYS as u32);

    let filter = generate(&tables, default, enosys_stub, dispatch)?;
    Ok(SeccompProgram::new(filter, flags)?)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: u64,
}

/// Conditions ANDed, and the action when they all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Emits the dispatch on the syscall number of one ABI's block (`table`, the default
/// action): `A` holds `nr`, which is below the x32 bit on x86_64 and, with the ENOSYS
/// stub, at most the largest number named.
type Dispatch = fn(&mut Asm, &AbiRules, u32);

fn generate(
    tables: &[AbiRules],
    default: u32,
    enosys_stub: bool,
    dispatch: Dispatch,
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
        dispatch(&mut asm, table, default);
    }
    asm.finish()
}

/// Where a syscall number leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A plain `ret` of this action.
    Ret(u32),
    /// The rule block with this index (blocks with equal rules are shared).
    Rules(usize),
}

/// The tree dispatch (libseccomp's binary-tree optimisation, on ranges): all numbers
/// fall into maximal runs that lead to the same outcome (numbers the profile
/// does not name lead to the default action), and a balanced binary search on the runs'
/// first numbers (`jge`) picks the run. The path costs ⌈log₂ runs⌉ compares, and the
/// kernel's emulation that builds its cache of always-allowed syscalls at load time walks
/// only that path per number.
fn emit_tree(asm: &mut Asm, table: &AbiRules, default: u32) {
    let mut blocks: Vec<&[Rule]> = Vec::new();
    let mut runs: Vec<(u32, Outcome)> = Vec::new();
    let mut push = |start: u32, outcome: Outcome| {
        if runs.last().is_none_or(|&(_, o)| o != outcome) {
            runs.push((start, outcome));
        }
    };
    let mut next = 0u64;
    for (&nr, rules) in &table.by_nr {
        let outcome = match rules.as_slice() {
            [] => Outcome::Ret(default),
            [only] if only.conds.is_empty() => Outcome::Ret(only.action),
            _ => match blocks.iter().position(|b| *b == rules.as_slice()) {
                Some(i) => Outcome::Rules(i),
                None => {
                    blocks.push(rules);
                    Outcome::Rules(blocks.len() - 1)
                }
            },
        };
        if u64::from(nr) > next {
            push(next as u32, Outcome::Ret(default));
        }
        push(nr, outcome);
        next = u64::from(nr) + 1;
    }
    if next <= u64::from(u32::MAX) {
        push(next as u32, Outcome::Ret(default));
    }

    // One label per distinct outcome.
    let mut rets: Vec<(u32, Label)> = Vec::new();
    let block_labels: Vec<Label> = blocks.iter().map(|_| asm.label()).collect();
    let mut target = |asm: &mut Asm, outcome: Outcome| -> Label {
        match outcome {
            Outcome::Rules(i) => block_labels[i],
            Outcome::Ret(action) => match rets.iter().find(|(a, _)| *a == action) {
                Some(&(_, label)) => label,
                None => {
                    let label = asm.label();
                    rets.push((action, label));
                    label
                }
            },
        }
    };
    let targets: Vec<(u32, Label)> = runs
        .iter()
        .map(|&(start, outcome)| (start, target(asm, outcome)))
        .collect();
    if let [(_, only)] = targets.as_slice() {
        asm.ja(*only);
    } else {
        emit_split(asm, &targets);
    }
    for (action, label) in rets {
        asm.place(label);
        asm.ret(action);
    }
    for (rules, label) in blocks.into_iter().zip(block_labels) {
        asm.place(label);
        emit_rules(asm, table.abi, rules, default);
    }
}

/// One node of the search over `runs` (at least two, sorted by first number): `jge` the
/// middle run's first number, the upper half on true, the lower half on false.
fn emit_split(asm: &mut Asm, runs: &[(u32, Label)]) {
    let mid = runs.len() / 2;
    let (low, high) = runs.split_at(mid);
    let side = |asm: &mut Asm, half: &[(u32, Label)]| match half {
        [(_, leaf)] => (Target::Label(*leaf), None),
        _ => {
            let node = asm.label();
            (Target::Label(node), Some(node))
        }
    };
    let (t_high, n_high) = side(asm, high);
    let (t_low, n_low) = side(asm, low);
    // The lower half's node, if any, comes right after this jump.
    let jf = if n_low.is_some() { Target::Next } else { t_low };
    asm.jump(BPF_JMP_JGE_K, high[0].0, t_high, jf);
    if let Some(node) = n_low {
        asm.place(node);
        emit_split(asm, low);
    }
    if let Some(node) = n_high {
        asm.place(node);
        emit_split(asm, high);
    }
}

/// The rules of one syscall in spec order, the first that matches returns its action;
/// if none does, the default action.
fn emit_rules(asm: &mut Asm, abi: Abi, rules: &[Rule], default: u32) {
    for rule in rules {
        let next_rule = asm.label();
        for cond in &rule.conds {
            emit_cond(asm, abi, cond, next_rule);
        }
        asm.ret(rule.action);
        asm.place(next_rule);
    }
    asm.ret(default);
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

#[cfg(test)]
// The kernel tests fork and make raw syscalls to check the compiled filters' effect.
#[allow(unsafe_code)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::ffi::CString;

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).expect("test profile parses")
    }

    fn native_arch() -> u32 {
        Abi::native().expect("supported host").audit_arch()
    }

    fn nr(name: &str) -> u32 {
        Abi::native()
            .unwrap()
            .syscall_nr(name)
            .expect("known syscall")
    }

    fn reason(err: Error) -> String {
        match err {
            Error::Seccomp { reason } => reason,
            other => panic!("expected Error::Seccomp, got {other:?}"),
        }
    }

    /// A classic-BPF interpreter for the instructions the compiler emits, run over a
    /// `seccomp_data` laid out as the kernel does on this host.
    fn eval(prog: &SeccompProgram, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        eval_steps(prog, arch, nr, args).0
    }

    /// [`eval`], and the number of instructions run.
    fn eval_steps(prog: &SeccompProgram, arch: u32, nr: u32, args: [u64; 6]) -> (u32, usize) {
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(&nr.to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&0x1234_5678_u64.to_ne_bytes());
        for a in args {
            data.extend_from_slice(&a.to_ne_bytes());
        }
        let insns = prog.instructions();
        let (mut pc, mut a, mut steps) = (0usize, 0u32, 0usize);
        loop {
            let i = insns[pc];
            pc += 1;
            steps += 1;
            let cond = |taken: bool| if taken { i.jt as usize } else { i.jf as usize };
            match i.code {
                BPF_LD_W_ABS => {
                    let k = i.k as usize;
                    assert!(k.is_multiple_of(4) && k + 4 <= data.len(), "load at {k}");
                    a = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                }
                BPF_ALU_AND_K => a &= i.k,
                BPF_JMP_JA => pc += i.k as usize,
                BPF_JMP_JEQ_K => pc += cond(a == i.k),
                BPF_JMP_JGT_K => pc += cond(a > i.k),
                BPF_JMP_JGE_K => pc += cond(a >= i.k),
                BPF_RET_K => return (i.k, steps),
                code => panic!("unexpected opcode {code:#x} at {}", pc - 1),
            }
            assert!(pc < insns.len(), "ran off the end of the program");
        }
    }

    /// The dispatch this compiler had before the tree: one `jeq` per syscall number in
    /// chunks of 128, each followed by the `ret`s it uses, kept to check the tree against.
    fn emit_linear(asm: &mut Asm, table: &AbiRules, default: u32) {
        const CHUNK: usize = 128;
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
                emit_rules(asm, table.abi, rules, default);
            }
            asm.place(next_chunk);
        }
        if entries.is_empty() {
            asm.ret(default);
        }
    }

    /// The tree dispatch decides exactly as the linear one did: Docker's default profile
    /// for several capability sets, every syscall number 0..500 (and the x32 and
    /// out-of-range ones) on every architecture in the filter, with the argument values
    /// the profile's conditions name and their neighbours.
    #[test]
    fn tree_and_linear_programs_decide_alike() {
        use crate::runtime::seccomp_profile::default_profile;
        let cap_sets: [&[&str]; 4] = [
            &[],
            &[
                "CAP_CHOWN",
                "CAP_KILL",
                "CAP_SETUID",
                "CAP_SETGID",
                "CAP_NET_RAW",
            ],
            &["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME"],
            crate::runtime::CAPABILITIES,
        ];
        let arches: Vec<u32> = if cfg!(target_arch = "x86_64") {
            vec![AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64]
        } else {
            vec![AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_X86_64]
        };
        let mut nrs: Vec<u32> = (0..500).collect();
        nrs.extend([
            1000,
            0xffff,
            X32_SYSCALL_BIT,
            X32_SYSCALL_BIT | 39,
            u32::MAX,
        ]);
        for caps in cap_sets {
            let spec = default_profile(caps);
            let tree = compile_with(&spec, emit_tree).unwrap();
            let linear = compile_with(&spec, emit_linear).unwrap();
            // Argument vectors: zeros, and each value a condition names (and ±1, and the
            // masked pattern) in the argument it names.
            let mut argsets = vec![[0u64; 6], [u64::MAX; 6]];
            for call in spec.syscalls().iter().flatten() {
                for arg in call.args().iter().flatten() {
                    let v = arg.value();
                    let two = arg.value_two().unwrap_or(0);
                    for x in [v, v.wrapping_add(1), v.wrapping_sub(1), two, two | !v] {
                        let mut args = [0u64; 6];
                        args[arg.index()] = x;
                        argsets.push(args);
                    }
                }
            }
            argsets.sort_unstable();
            argsets.dedup();
            let mut checked = 0;
            for &arch in &arches {
                for &nr in &nrs {
                    for args in &argsets {
                        let (t, l) = (eval(&tree, arch, nr, *args), eval(&linear, arch, nr, *args));
                        assert_eq!(t, l, "caps {caps:?}: arch {arch:#x} nr {nr} args {args:x?}");
                        checked += 1;
                    }
                }
            }
            assert!(argsets.len() > 10 && checked > 10_000, "{checked}");
            let (t, l) = (tree.instructions().len(), linear.instructions().len());
            eprintln!("caps {caps:?}: tree {t} instructions, linear {l}");
            assert!(t < l, "tree {t} >= linear {l}");
        }
    }

    /// The path a syscall takes through the tree is short under Docker's default
    /// profile: at most 16 instructions to an unconditional decision, a few more through
    /// the argument checks of a conditional rule; the linear chain took hundreds for the
    /// last numbers.
    #[test]
    fn tree_paths_are_short() {
        let spec = crate::runtime::seccomp_profile::default_profile(&["CAP_KILL"]);
        let prog = compile(&spec).unwrap();
        let conditional: Vec<u32> = spec
            .syscalls()
            .iter()
            .flatten()
            .filter(|r| r.args().as_ref().is_some_and(|a| !a.is_empty()))
            .flat_map(|r| {
                r.names()
                    .iter()
                    .filter_map(|n| Abi::native()?.syscall_nr(n))
            })
            .collect();
        let mut plain = Vec::new();
        for nr in 0..500 {
            let steps = eval_steps(&prog, native_arch(), nr, [0; 6]).1;
            let most = if conditional.contains(&nr) { 40 } else { 16 };
            assert!(steps <= most, "nr {nr}: {steps} instructions");
            if !conditional.contains(&nr) {
                plain.push(steps);
            }
        }
        plain.sort_unstable();
        eprintln!(
            "tree paths: median {}, max {} instructions",
            plain[plain.len() / 2],
            plain[plain.len() - 1]
        );
        let linear = compile_with(&spec, emit_linear).unwrap();
        let worst = (0..500)
            .map(|nr| eval_steps(&linear, native_arch(), nr, [0; 6]).1)
            .max()
            .unwrap();
        assert!(worst > 100, "linear worst path {worst}");
    }

    #[test]
    fn compile_caches_programs() {
        let spec = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4321}]
        }));
        let a = compile(&spec).unwrap();
        let b = compile(&spec).unwrap();
        assert_eq!(
            eval(&a, native_arch(), nr("getpid"), [0; 6]),
            eval(&b, native_arch(), nr("getpid"), [0; 6])
        );
        assert!(CACHE
            .lock()
            .unwrap()
            .iter()
            .any(|(s, p)| s == &spec && p.instructions().len() == a.instructions().len()));
        // Another spec gets its own program.
        let other = profile(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        assert_eq!(
            eval(
                &compile(&other).unwrap(),
                native_arch(),
                nr("getpid"),
                [0; 6]
            ),
            RET_ALLOW
        );
    }

    #[test]
    fn constants_match_the_kernel_headers() {
        use libc::*;
        let op = |x: u32| u16::try_from(x).unwrap();
        assert_eq!(BPF_LD_W_ABS, op(BPF_LD | BPF_W | BPF_ABS));
        assert_eq!(BPF_ALU_AND_K, op(BPF_ALU | BPF_AND | BPF_K));
        assert_eq!(BPF_JMP_JA, op(BPF_JMP | BPF_JA));
        assert_eq!(BPF_JMP_JEQ_K, op(BPF_JMP | BPF_JEQ | BPF_K));
        assert_eq!(BPF_JMP_JGT_K, op(BPF_JMP | BPF_JGT | BPF_K));
        assert_eq!(BPF_JMP_JGE_K, op(BPF_JMP | BPF_JGE | BPF_K));
        assert_eq!(BPF_RET_K, op(BPF_RET | BPF_K));
        assert_eq!(
            crate::sys::seccomp::MAX_INSTRUCTIONS,
            libc::BPF_MAXINSNS as usize
        );
        assert_eq!(
            [
                RET_KILL_THREAD,
                RET_KILL_PROCESS,
                RET_TRAP,
                RET_ERRNO,
                RET_TRACE,
                RET_LOG,
                RET_ALLOW
            ],
            [
                SECCOMP_RET_KILL_THREAD,
                SECCOMP_RET_KILL_PROCESS,
                SECCOMP_RET_TRAP,
                SECCOMP_RET_ERRNO,
                SECCOMP_RET_TRACE,
                SECCOMP_RET_LOG,
                SECCOMP_RET_ALLOW
            ]
        );
        assert_eq!(
            [FLAG_TSYNC, FLAG_LOG, FLAG_SPEC_ALLOW].map(c_ulong::from),
            [
                SECCOMP_FILTER_FLAG_TSYNC,
                SECCOMP_FILTER_FLAG_LOG,
                SECCOMP_FILTER_FLAG_SPEC_ALLOW
            ]
        );
        assert_eq!(std::mem::offset_of!(seccomp_data, arch), OFF_ARCH as usize);
        assert_eq!(std::mem::offset_of!(seccomp_data, args), OFF_ARGS as usize);
    }

    #[test]
    fn starts_with_the_arch_check_and_kills_other_arches() {
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap();
        let insns = prog.instructions();
        assert_eq!((insns[0].code, insns[0].k), (BPF_LD_W_ABS, OFF_ARCH));
        assert_eq!((insns[1].code, insns[1].k), (BPF_JMP_JEQ_K, native_arch()));
        assert!(insns.len() < 20, "{} instructions", insns.len());
        assert_eq!(
            eval(&prog, native_arch(), nr("getpid"), [0; 6]),
            RET_ERRNO | 1
        );
        assert_eq!(eval(&prog, native_arch(), nr("getppid"), [0; 6]), RET_ALLOW);
        // An architecture that is not in the filter gets libseccomp's bad-arch action.
        assert_eq!(eval(&prog, 0x1234, nr("getppid"), [0; 6]), RET_KILL_THREAD);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_64_rejects_x32_and_handles_i386_numbers() {
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["getpid", "_llseek", "exit_group"], "action": "SCMP_ACT_ALLOW"}
            ]
        })))
        .unwrap();
        let x86_64 = |nr| eval(&prog, AUDIT_ARCH_X86_64, nr, [0; 6]);
        let i386 = |nr| eval(&prog, AUDIT_ARCH_I386, nr, [0; 6]);
        assert_eq!(x86_64(39), RET_ALLOW); // getpid
        assert_eq!(x86_64(39 | X32_SYSCALL_BIT), RET_KILL_THREAD);
        assert_eq!(x86_64(u32::MAX), RET_KILL_THREAD);
        assert_eq!(x86_64(0), RET_ERRNO | 1); // read: not allowed
        assert_eq!(x86_64(300), RET_ERRNO | libc::ENOSYS as u32); // above exit_group (231)
        assert_eq!(i386(20), RET_ALLOW); // getpid on i386
        assert_eq!(i386(140), RET_ALLOW); // _llseek exists only on i386
        assert_eq!(i386(39), RET_ERRNO | 1); // mkdir on i386
        assert_eq!(i386(253), RET_ERRNO | libc::ENOSYS as u32); // above exit_group (252)
        assert_eq!(eval(&prog, AUDIT_ARCH_AARCH64, 39, [0; 6]), RET_KILL_THREAD);
    }

    #[test]
    fn unknown_syscall_names_are_skipped() {
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["no_such_syscall", "getpid"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["also_not_a_syscall"], "action": "SCMP_ACT_ERRNO"},
                {"names": [], "action": "SCMP_ACT_ERRNO"}
            ]
        })))
        .unwrap();
        assert_eq!(
            eval(&prog, native_arch(), nr("getpid"), [0; 6]),
            RET_KILL_PROCESS
        );
        assert_eq!(eval(&prog, native_arch(), nr("getppid"), [0; 6]), RET_ALLOW);
    }

    #[test]
    fn actions_and_their_data() {
        let cases = [
            (json!({"action": "SCMP_ACT_KILL"}), RET_KILL_THREAD),
            (json!({"action": "SCMP_ACT_KILL_THREAD"}), RET_KILL_THREAD),
            (json!({"action": "SCMP_ACT_KILL_PROCESS"}), RET_KILL_PROCESS),
            (json!({"action": "SCMP_ACT_TRAP"}), RET_TRAP),
            (json!({"action": "SCMP_ACT_ERRNO"}), RET_ERRNO | 1),
            (
                json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 38}),
                RET_ERRNO | 38,
            ),
            (json!({"action": "SCMP_ACT_TRACE"}), RET_TRACE | 1),
            (
                json!({"action": "SCMP_ACT_TRACE", "errnoRet": 7}),
                RET_TRACE | 7,
            ),
            (json!({"action": "SCMP_ACT_LOG"}), RET_LOG),
        ];
        for (rule, want) in cases {
            let mut rule = rule;
            rule["names"] = json!(["getpid"]);
            let prog = compile(&profile(json!({
                "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule.clone()]
            })))
            .unwrap();
            assert_eq!(
                eval(&prog, native_arch(), nr("getpid"), [0; 6]),
                want,
                "{rule}"
            );
        }
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1234,
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
        })))
        .unwrap();
        // `read` is below the largest syscall named, so the ENOSYS stub leaves it alone.
        assert_eq!(
            eval(&prog, native_arch(), nr("read"), [0; 6]),
            RET_ERRNO | 1234
        );
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let err = |v| reason(compile(&profile(v)).unwrap_err());
        let r = err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
        assert!(
            r.contains("defaultAction") && r.contains("SCMP_ACT_NOTIFY"),
            "{r}"
        );
        let r = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
        assert!(
            r.contains("syscalls[1] (mkdir)") && r.contains("NOTIFY"),
            "{r}"
        );
        let r = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(r.contains("syscalls[0] (read): args[1].index 6"), "{r}");
        let r = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}));
        assert!(r.contains("syscalls[0] (read): errnoRet 70000"), "{r}");
        let r = err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536}));
        assert!(r.contains("defaultAction: errnoRet 65536"), "{r}");
        let r = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read", ""], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(r.contains("syscalls[0] (read): names[1] is empty"), "{r}");
        let r = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}));
        assert!(
            r.contains("flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
            "{r}"
        );
        // Unknown actions, operators and flags are refused when the spec is parsed.
        for bad in [
            json!({"defaultAction": "SCMP_ACT_BOGUS"}),
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}),
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}),
        ] {
            assert!(
                serde_json::from_value::<LinuxSeccomp>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn flags_map_to_kernel_bits() {
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                      "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
        })))
        .unwrap();
        assert_eq!(prog.flags(), 0b111);
        let none = compile(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW"})));
        assert_eq!(none.unwrap().flags(), 0);
    }

    /// Every operator, against values around the 32-bit boundary, on a 64-bit ABI and
    /// (where the host has one) on a 32-bit ABI, which compares the low halves only.
    #[test]
    fn comparisons_match_64_bit_semantics() {
        let values = [
            0u64,
            1,
            2,
            0x7fff_ffff,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0x2_0000_0000,
            0xffff_ffff_0000_0000,
            u64::MAX - 1,
            u64::MAX,
        ];
        let ops = [
            "SCMP_CMP_NE",
            "SCMP_CMP_LT",
            "SCMP_CMP_LE",
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_MASKED_EQ",
        ];
        let (compat_arch, compat_getpid) = if cfg!(target_arch = "x86_64") {
            ("SCMP_ARCH_X86", (AUDIT_ARCH_I386, 20))
        } else {
            ("SCMP_ARCH_ARM", (AUDIT_ARCH_ARM, 20))
        };
        for op in ops {
            for &datum in &values {
                for index in [0u64, 3, 5] {
                    let prog = compile(&profile(json!({
                        "defaultAction": "SCMP_ACT_ALLOW",
                        "architectures": [compat_arch],
                        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                            "args": [{"index": index, "value": datum,
                                      "valueTwo": datum.rotate_left(17) & datum, "op": op}]}]
                    })))
                    .unwrap();
                    let check = |x: u64, d: u64, mask: u64, two: u64| match op {
                        "SCMP_CMP_NE" => x != d,
                        "SCMP_CMP_LT" => x < d,
                        "SCMP_CMP_LE" => x <= d,
                        "SCMP_CMP_EQ" => x == d,
                        "SCMP_CMP_GE" => x >= d,
                        "SCMP_CMP_GT" => x > d,
                        _ => x & mask == two,
                    };
                    let two = datum.rotate_left(17) & datum;
                    for &arg in values.iter().chain(&[datum & 0xf0f0_f0f0_f0f0_f0f0]) {
                        let mut args = [0u64; 6];
                        args[index as usize] = arg;
                        let want = if check(arg, datum, datum, two) {
                            RET_ERRNO | 1
                        } else {
                            RET_ALLOW
                        };
                        let got = eval(&prog, native_arch(), nr("getpid"), args);
                        assert_eq!(got, want, "64-bit: {arg:#x} {op} {datum:#x} (two {two:#x})");
                        // 32-bit tasks: the kernel zero-extends, the filter sees the low half.
                        let lo = arg & 0xffff_ffff;
                        args[index as usize] = lo;
                        let want = if check(
                            lo,
                            datum & 0xffff_ffff,
                            datum & 0xffff_ffff,
                            two & 0xffff_ffff,
                        ) {
                            RET_ERRNO | 1
                        } else {
                            RET_ALLOW
                        };
                        let got = eval(&prog, compat_getpid.0, compat_getpid.1, args);
                        assert_eq!(got, want, "32-bit: {lo:#x} {op} {datum:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn conditions_and_rules_combine_as_runc_does() {
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                // Different arguments: ANDed.
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 10,
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
                // The same argument twice: one rule per condition, ORed.
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11,
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                // First match wins; an unconditional rule ends the list.
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12,
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 14},
                // Same action as the default: skipped, as runc does.
                {"names": ["gettid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["gettid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 15}
            ]
        })))
        .unwrap();
        let run = |name, a0, a1| eval(&prog, native_arch(), nr(name), [a0, a1, 0, 0, 0, 0]);
        assert_eq!(run("getpid", 1, 2), RET_ERRNO | 10);
        assert_eq!(run("getpid", 1, 3), RET_ERRNO | 12);
        assert_eq!(run("getpid", 0, 2), RET_ERRNO | 13);
        assert_eq!(run("getppid", 1, 0), RET_ERRNO | 11);
        assert_eq!(run("getppid", 2, 0), RET_ERRNO | 11);
        assert_eq!(run("getppid", 3, 0), RET_ALLOW);
        assert_eq!(run("gettid", 0, 0), RET_ERRNO | 15);
    }

    /// Many syscalls, each with conditional rules, make blocks far longer than a short
    /// jump reaches; the relaxed program must still route every syscall right.
    #[test]
    fn long_jumps_keep_every_rule_reachable() {
        let names: Vec<&str> = DOCKER_ALLOW.to_vec();
        let syscalls: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": i + 1,
                       "args": [{"index": i % 6, "value": i, "op": "SCMP_CMP_EQ"}]})
            })
            .collect();
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls
        })))
        .unwrap();
        assert!(prog
            .instructions()
            .iter()
            .any(|i| i.code == BPF_JMP_JA && i.k > 255));
        let mut checked = 0;
        for (i, name) in names.iter().enumerate() {
            let Some(n) = Abi::native().unwrap().syscall_nr(name) else {
                continue;
            };
            if names[..i]
                .iter()
                .any(|other| Abi::native().unwrap().syscall_nr(other) == Some(n))
            {
                continue;
            }
            let mut args = [0u64; 6];
            args[i % 6] = i as u64;
            assert_eq!(
                eval(&prog, native_arch(), n, args),
                RET_ERRNO | (i as u32 + 1),
                "{name}"
            );
            args[i % 6] = i as u64 + 1;
            assert_eq!(eval(&prog, native_arch(), n, args), RET_ALLOW, "{name}");
            checked += 1;
        }
        assert!(checked > 250, "only {checked} syscalls known");
    }

    #[test]
    fn docker_like_profile_is_compact_and_correct() {
        let prog = compile(&docker_like()).unwrap();
        let len = prog.instructions().len();
        eprintln!("docker-like profile: {len} instructions");
        assert!(len < 1200, "{len} instructions");
        let native = Abi::native().unwrap();
        let max = DOCKER_ALLOW
            .iter()
            .filter_map(|n| native.syscall_nr(n))
            .max()
            .unwrap();
        for name in DOCKER_ALLOW
            .iter()
            .filter(|n| !["personality", "clone", "clone3"].contains(n))
        {
            if let Some(n) = native.syscall_nr(name) {
                assert_eq!(eval(&prog, native_arch(), n, [0; 6]), RET_ALLOW, "{name}");
            }
        }
        assert_eq!(
            eval(&prog, native_arch(), nr("swapoff"), [0; 6]),
            RET_ERRNO | 1
        );
        assert_eq!(
            eval(&prog, native_arch(), max + 1, [0; 6]),
            RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(
            eval(&prog, native_arch(), nr("clone3"), [0; 6]),
            RET_ERRNO | libc::ENOSYS as u32
        );
        let newns = u64::from(libc::CLONE_NEWNS as u32);
        assert_eq!(eval(&prog, native_arch(), nr("clone"), [0; 6]), RET_ALLOW);
        assert_eq!(
            eval(&prog, native_arch(), nr("clone"), [newns, 0, 0, 0, 0, 0]),
            RET_ERRNO | 1
        );
        assert_eq!(
            eval(&prog, native_arch(), nr("personality"), [8, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            eval(&prog, native_arch(), nr("personality"), [9, 0, 0, 0, 0, 0]),
            RET_ERRNO | 1
        );
    }

    #[test]
    fn enosys_stub_only_for_restrictive_defaults() {
        let above = |default: serde_json::Value| {
            let mut spec = json!({"syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_KILL"}]});
            spec.as_object_mut()
                .unwrap()
                .extend(default.as_object().unwrap().clone());
            let prog = compile(&profile(spec)).unwrap();
            eval(&prog, native_arch(), nr("getpid") + 1, [0; 6])
        };
        let enosys = RET_ERRNO | libc::ENOSYS as u32;
        assert_eq!(above(json!({"defaultAction": "SCMP_ACT_ERRNO"})), enosys);
        assert_eq!(
            above(json!({"defaultAction": "SCMP_ACT_KILL_PROCESS"})),
            enosys
        );
        assert_eq!(above(json!({"defaultAction": "SCMP_ACT_ALLOW"})), RET_ALLOW);
        assert_eq!(above(json!({"defaultAction": "SCMP_ACT_LOG"})), RET_LOG);
        assert_eq!(
            above(json!({"defaultAction": "SCMP_ACT_TRACE"})),
            RET_TRACE | 1
        );
        assert_eq!(
            above(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5})),
            enosys
        );
        // With ENOSYS as the default errno the stub is left out: two instructions fewer.
        let len = |errno: u32| {
            compile(&profile(json!({"defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": errno,
                "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]})))
            .unwrap()
            .instructions()
            .len()
        };
        assert_eq!(len(38) + 2, len(5));
    }

    #[test]
    fn too_many_instructions_is_an_error() {
        // 7 conditions per rule on different... at most 6 arguments: use many rules.
        let rules: Vec<_> = (0..800)
            .map(|i| {
                json!({"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 0, "value": i, "op": "SCMP_CMP_GT"}]})
            })
            .collect();
        let r = reason(
            compile(&profile(json!({
                "defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules
            })))
            .unwrap_err(),
        );
        assert!(r.contains("more than the kernel's limit of 4096"), "{r}");
    }

    // --- Real kernel behaviour, in forked children -----------------------------------

    /// Runs `body` in a forked child and returns its wait status. `body` must not
    /// allocate or panic: the test harness is multi-threaded.
    fn in_child(body: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child only runs `body`, which makes raw syscalls and no
        // allocation, then leaves with `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = body();
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer and `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid, "waitpid");
        status
    }

    /// Runs `body` as [`in_child`] does, under `prog` (loaded through [`lock_down`], whose
    /// failure code the child exits with).
    fn in_filtered_child(prog: &SeccompProgram, body: impl FnOnce() -> i32) -> i32 {
        in_child(|| match lock_down(prog) {
            0 => body(),
            rc => rc,
        })
    }

    /// Sets no_new_privs and loads `prog`; returns a non-zero exit code on failure.
    fn lock_down(prog: &SeccompProgram) -> i32 {
        // The kernel requires no_new_privs (or CAP_SYS_ADMIN) to install a filter.
        // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_NO_NEW_PRIVS,
                1 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc != 0 {
            return 2;
        }
        match prog.load() {
            Ok(()) => 0,
            Err(_) => 3,
        }
    }

    /// A raw syscall with three arguments: `Ok(ret)` or `Err(errno)`.
    fn sys3(nr: u32, a: usize, b: usize, c: usize) -> std::result::Result<libc::c_long, i32> {
        // SAFETY: the tests only pass pointers to live, NUL-terminated strings or zeros.
        let rc = unsafe { libc::syscall(libc::c_long::from(nr), a, b, c) };
        if rc < 0 {
            Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL))
        } else {
            Ok(rc)
        }
    }

    fn exit_code(status: i32) -> Option<i32> {
        libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
    }

    #[test]
    fn kernel_applies_errno_and_argument_conditions() {
        let dir = tempfile::tempdir().unwrap();
        let denied = CString::new(
            dir.path()
                .join("denied")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        let allowed = CString::new(
            dir.path()
                .join("allowed")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1234},
                {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"}]}
            ]
        })))
        .unwrap();
        let (getpid, getppid, mkdirat) = (nr("getpid"), nr("getppid"), nr("mkdirat"));
        let at_fdcwd = libc::AT_FDCWD as isize as usize;
        let status = in_filtered_child(&prog, || {
            if sys3(getpid, 0, 0, 0) != Err(1234) {
                return 10;
            }
            if !matches!(sys3(getppid, 0, 0, 0), Ok(p) if p > 0) {
                return 11;
            }
            if sys3(mkdirat, at_fdcwd, denied.as_ptr() as usize, 0o700) != Err(libc::EPERM) {
                return 12;
            }
            if sys3(mkdirat, at_fdcwd, allowed.as_ptr() as usize, 0o755) != Ok(0) {
                return 13;
            }
            0
        });
        assert_eq!(exit_code(status), Some(0), "wait status {status:#x}");
        assert!(dir.path().join("allowed").is_dir());
        assert!(!dir.path().join("denied").exists());
    }

    #[test]
    fn kernel_kill_process_and_trap_raise_sigsys() {
        for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"] {
            let prog = compile(&profile(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getpid"], "action": action}]
            })))
            .unwrap();
            let getpid = nr("getpid");
            let status = in_filtered_child(&prog, || {
                let _ = sys3(getpid, 0, 0, 0);
                50 // not reached when the filter works
            });
            assert!(
                libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
                "{action}: wait status {status:#x}"
            );
        }
    }

    #[test]
    fn kernel_runs_bin_true_under_a_docker_like_profile() {
        let prog = compile(&docker_like()).unwrap();
        let path = CString::new("/bin/true").unwrap();
        let argv = [path.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        let nowhere = CString::new("/nonexistent-swap").unwrap();
        let (swapoff, clone3) = (nr("swapoff"), nr("clone3"));
        let status = in_filtered_child(&prog, || {
            // Not in the profile: EPERM (ENOENT without the filter).
            if sys3(swapoff, nowhere.as_ptr() as usize, 0, 0) != Err(libc::EPERM) {
                return 20;
            }
            if sys3(clone3, 0, 0, 0) != Err(libc::ENOSYS) {
                return 21;
            }
            // SAFETY: path, argv and envp are NUL-terminated and outlive the call.
            unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
            22
        });
        assert_eq!(exit_code(status), Some(0), "wait status {status:#x}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn kernel_returns_enosys_above_the_profiles_syscalls() {
        // The largest syscall named is exit_group (231): getrandom (318) is "unknown".
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["exit_group", "exit", "getpid"], "action": "SCMP_ACT_ALLOW"}]
        })))
        .unwrap();
        let status = in_filtered_child(&prog, || {
            if sys3(318, 0, 0, 0) != Err(libc::ENOSYS) {
                return 30;
            }
            if sys3(110, 0, 0, 0) != Err(libc::EPERM) {
                return 31; // getppid: below the largest, not allowed
            }
            if !matches!(sys3(39, 0, 0, 0), Ok(p) if p > 0) {
                return 32;
            }
            0
        });
        assert_eq!(exit_code(status), Some(0), "wait status {status:#x}");
    }

    #[test]
    fn kernel_accepts_the_flags() {
        let prog = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77}]
        })))
        .unwrap();
        let getpid = nr("getpid");
        let status = in_filtered_child(&prog, || {
            if sys3(getpid, 0, 0, 0) != Err(77) {
                return 40;
            }
            0
        });
        assert_eq!(exit_code(status), Some(0), "wait status {status:#x}");
    }

    fn docker_like() -> LinuxSeccomp {
        let arches = if cfg!(target_arch = "x86_64") {
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        } else {
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        };
        let plain: Vec<&str> = DOCKER_ALLOW
            .iter()
            .copied()
            .filter(|n| !["personality", "clone", "clone3"].contains(n))
            .collect();
        profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": arches,
            "syscalls": [
                {"names": plain, "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0,
                           "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        }))
    }

    /// Roughly the allow list of Docker's default profile.
    const DOCKER_ALLOW: &[&str] = &[
        "accept",
        "accept4",
        "access",
        "adjtimex",
        "alarm",
        "bind",
        "brk",
        "capget",
        "capset",
        "chdir",
        "chmod",
        "chown",
        "chown32",
        "clock_adjtime",
        "clock_adjtime64",
        "clock_getres",
        "clock_getres_time64",
        "clock_gettime",
        "clock_gettime64",
        "clock_nanosleep",
        "clock_nanosleep_time64",
        "clone",
        "clone3",
        "close",
        "close_range",
        "connect",
        "copy_file_range",
        "creat",
        "dup",
        "dup2",
        "dup3",
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_ctl_old",
        "epoll_pwait",
        "epoll_pwait2",
        "epoll_wait",
        "epoll_wait_old",
        "eventfd",
        "eventfd2",
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "faccessat",
        "faccessat2",
        "fadvise64",
        "fadvise64_64",
        "fallocate",
        "fanotify_mark",
        "fchdir",
        "fchmod",
        "fchmodat",
        "fchown",
        "fchown32",
        "fchownat",
        "fcntl",
        "fcntl64",
        "fdatasync",
        "fgetxattr",
        "flistxattr",
        "flock",
        "fork",
        "fremovexattr",
        "fsetxattr",
        "fstat",
        "fstat64",
        "fstatat64",
        "fstatfs",
        "fstatfs64",
        "fsync",
        "ftruncate",
        "ftruncate64",
        "futex",
        "futex_time64",
        "futex_waitv",
        "futimesat",
        "getcpu",
        "getcwd",
        "getdents",
        "getdents64",
        "getegid",
        "getegid32",
        "geteuid",
        "geteuid32",
        "getgid",
        "getgid32",
        "getgroups",
        "getgroups32",
        "getitimer",
        "getpeername",
        "getpgid",
        "getpgrp",
        "getpid",
        "getppid",
        "getpriority",
        "getrandom",
        "getresgid",
        "getresgid32",
        "getresuid",
        "getresuid32",
        "getrlimit",
        "get_robust_list",
        "getrusage",
        "getsid",
        "getsockname",
        "getsockopt",
        "get_thread_area",
        "gettid",
        "gettimeofday",
        "getuid",
        "getuid32",
        "getxattr",
        "inotify_add_watch",
        "inotify_init",
        "inotify_init1",
        "inotify_rm_watch",
        "io_cancel",
        "ioctl",
        "io_destroy",
        "io_getevents",
        "io_pgetevents",
        "io_pgetevents_time64",
        "ioprio_get",
        "ioprio_set",
        "io_setup",
        "io_submit",
        "io_uring_enter",
        "io_uring_register",
        "io_uring_setup",
        "ipc",
        "kill",
        "landlock_add_rule",
        "landlock_create_ruleset",
        "landlock_restrict_self",
        "lchown",
        "lchown32",
        "lgetxattr",
        "link",
        "linkat",
        "listen",
        "listxattr",
        "llistxattr",
        "_llseek",
        "lremovexattr",
        "lseek",
        "lsetxattr",
        "lstat",
        "lstat64",
        "madvise",
        "membarrier",
        "memfd_create",
        "memfd_secret",
        "mincore",
        "mkdir",
        "mkdirat",
        "mknod",
        "mknodat",
        "mlock",
        "mlock2",
        "mlockall",
        "mmap",
        "mmap2",
        "mprotect",
        "mq_getsetattr",
        "mq_notify",
        "mq_open",
        "mq_timedreceive",
        "mq_timedreceive_time64",
        "mq_timedsend",
        "mq_timedsend_time64",
        "mq_unlink",
        "mremap",
        "msgctl",
        "msgget",
        "msgrcv",
        "msgsnd",
        "msync",
        "munlock",
        "munlockall",
        "munmap",
        "name_to_handle_at",
        "nanosleep",
        "newfstatat",
        "_newselect",
        "open",
        "openat",
        "openat2",
        "pause",
        "pidfd_open",
        "pidfd_send_signal",
        "pipe",
        "pipe2",
        "pkey_alloc",
        "pkey_free",
        "pkey_mprotect",
        "poll",
        "ppoll",
        "ppoll_time64",
        "prctl",
        "pread64",
        "preadv",
        "preadv2",
        "prlimit64",
        "process_mrelease",
        "pselect6",
        "pselect6_time64",
        "pwrite64",
        "pwritev",
        "pwritev2",
        "read",
        "readahead",
        "readlink",
        "readlinkat",
        "readv",
        "recv",
        "recvfrom",
        "recvmmsg",
        "recvmmsg_time64",
        "recvmsg",
        "remap_file_pages",
        "removexattr",
        "rename",
        "renameat",
        "renameat2",
        "restart_syscall",
        "rmdir",
        "rseq",
        "rt_sigaction",
        "rt_sigpending",
        "rt_sigprocmask",
        "rt_sigqueueinfo",
        "rt_sigreturn",
        "rt_sigsuspend",
        "rt_sigtimedwait",
        "rt_sigtimedwait_time64",
        "rt_tgsigqueueinfo",
        "sched_getaffinity",
        "sched_getattr",
        "sched_getparam",
        "sched_get_priority_max",
        "sched_get_priority_min",
        "sched_getscheduler",
        "sched_rr_get_interval",
        "sched_rr_get_interval_time64",
        "sched_setaffinity",
        "sched_setattr",
        "sched_setparam",
        "sched_setscheduler",
        "sched_yield",
        "seccomp",
        "select",
        "semctl",
        "semget",
        "semop",
        "semtimedop",
        "semtimedop_time64",
        "send",
        "sendfile",
        "sendfile64",
        "sendmmsg",
        "sendmsg",
        "sendto",
        "setfsgid",
        "setfsgid32",
        "setfsuid",
        "setfsuid32",
        "setgid",
        "setgid32",
        "setgroups",
        "setgroups32",
        "setitimer",
        "setpgid",
        "setpriority",
        "setregid",
        "setregid32",
        "setresgid",
        "setresgid32",
        "setresuid",
        "setresuid32",
        "setreuid",
        "setreuid32",
        "setrlimit",
        "set_robust_list",
        "setsid",
        "setsockopt",
        "set_thread_area",
        "set_tid_address",
        "setuid",
        "setuid32",
        "setxattr",
        "shmat",
        "shmctl",
        "shmdt",
        "shmget",
        "shutdown",
        "sigaltstack",
        "signalfd",
        "signalfd4",
        "sigprocmask",
        "sigreturn",
        "socketcall",
        "socket",
        "socketpair",
        "splice",
        "stat",
        "stat64",
        "statfs",
        "statfs64",
        "statx",
        "symlink",
        "symlinkat",
        "sync",
        "sync_file_range",
        "syncfs",
        "sysinfo",
        "tee",
        "tgkill",
        "time",
        "timer_create",
        "timer_delete",
        "timer_getoverrun",
        "timer_gettime",
        "timer_gettime64",
        "timer_settime",
        "timer_settime64",
        "timerfd_create",
        "timerfd_gettime",
        "timerfd_gettime64",
        "timerfd_settime",
        "timerfd_settime64",
        "times",
        "tkill",
        "truncate",
        "truncate64",
        "ugetrlimit",
        "umask",
        "uname",
        "unlink",
        "unlinkat",
        "utime",
        "utimensat",
        "utimensat_time64",
        "utimes",
        "vfork",
        "vmsplice",
        "wait4",
        "waitid",
        "waitpid",
        "write",
        "writev",
        "arch_prctl",
        "modify_ldt",
        "personality",
    ];
}
