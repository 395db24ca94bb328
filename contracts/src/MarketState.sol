// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IParisMarketTypes} from "./IParisMarket.sol";

/// @title MarketState
/// @notice The market's parameters and storage, and the checks its two halves share: `ParisMarket` (jobs, stakes,
///         deltas, merges, payouts) and `ParisCourt` (votes, verdicts, traps, slashing), whose code the market runs
///         on this same storage. Both inherit it, so their storage layouts are one.
abstract contract MarketState is IParisMarketTypes, ReentrancyGuard {
    uint8 public constant ROLE_MINER = 1;
    uint8 public constant ROLE_VALIDATOR = 2;
    /// @notice Bonds a job's merges: only an aggregator staked in this role may finalize, and a merge found wrong
    ///         (refuted by a dispute's committee, or missing a passed delta) costs it the whole stake.
    uint8 public constant ROLE_AGGREGATOR = 4;
    uint32 public constant MAX_SCORE = 10_000;
    uint8 public constant MAX_QUORUM = 15;
    /// @notice A merged delta is priced (and weighted in the merge) by at most this many times the lower median
    ///         score of its merge.
    uint256 public constant SCORE_CAP_X_MEDIAN = 2;
    /// @notice Random challenges per delta at most (the last segment comes on top): bounds what a reveal holds.
    uint8 public constant MAX_CHALLENGES = 16;
    /// @notice A delta's committee holds this many validators' worth of stake, in expectation: a validator with
    ///         stake s is drawn with probability min(1, COMMITTEE_SIZE x s / validatorStake), from the delta's seed.
    uint256 public constant COMMITTEE_SIZE = 8;

    uint96 public immutable MIN_STAKE;
    uint40 public immutable UNBONDING_DELAY;
    /// @notice Blocks after a delta's submission whose hash fixes its challenge.
    uint8 public immutable CHALLENGE_DELAY;
    /// @notice Seconds validators have to commit their sealed votes after a reveal, and as long again to open them;
    ///         then as long again in which a requester may expose a trap, before votes are settled.
    uint40 public immutable VOTE_WINDOW;
    /// @notice Shortest reveal window a job may set: 60 s plus 30 s per challenge-delay block, plus 3 VOTE_WINDOWs
    ///         (so the votes on a delta revealed at the last moment settle before the job can be reclaimed).
    uint40 public immutable MIN_REVEAL_WINDOW;

    uint256 public jobCount;
    /// @notice The stake of every bonded validator (unslashed, not unbonding): what committee draws divide.
    uint256 public validatorStake;
    mapping(uint256 jobId => Job) internal jobs;
    mapping(uint256 deltaId => Delta) internal deltas;
    mapping(address => Stake) internal stakes;
    mapping(address => uint256) public owed;
    mapping(uint256 deltaId => mapping(address validator => Vote)) public votes;
    mapping(uint256 deltaId => mapping(address validator => bytes32)) internal voteCommitments;
    mapping(uint256 jobId => TrapCommitment) public trapsOf;
    /// @dev Where an expert stands: its latest version, when that version was finalized (0 once rolled back: it
    ///      may be disputed, and a passed delta it left out reported, for VOTE_WINDOW after) and whether a dispute
    ///      of that merge is still unresolved. One slot, read by every submission and merge.
    struct Head {
        uint32 version;
        uint40 mergedAt;
        bool disputed;
    }

    mapping(uint256 jobId => mapping(uint256 expert => Head)) internal heads;
    /// @notice keccak256(abi.encode(checkpointDigest, checkpointCodec, keccak256(abi.encode(mergedDeltaIds))))
    mapping(uint256 jobId => mapping(uint256 expert => mapping(uint256 version => bytes32))) public mergeRecord;
    /// @notice The X25519 public key private jobs seal their data keys to, per account (0 when none).
    mapping(address => bytes32) public x25519KeyOf;
    /// @notice A private job's latest keyring; zero until the requester replaces the one its spec names.
    mapping(uint256 jobId => KeyringRef) public keyringOf;
    /// @notice Challenge seeds recorded by `fixChallenge` from their seed block's prevrandao.
    mapping(uint256 deltaId => bytes32) public fixedSeeds;
    /// @notice The aggregator whose merge a dispute is about: its stake answers for it.
    mapping(uint256 disputeId => address) public disputedAggregator;

    /// @param minStake smallest bond a miner or validator may hold
    /// @param unbondingDelay seconds between requesting unbonding and withdrawing the stake
    /// @param challengeDelay blocks after submission whose prevrandao fixes the delta's challenge (2..255)
    /// @param voteWindow seconds of each voting phase: commit, reveal, trap exposure
    constructor(uint96 minStake, uint40 unbondingDelay, uint8 challengeDelay, uint40 voteWindow) {
        if (minStake == 0 || voteWindow == 0) _refuse("market parameter is zero");
        if (unbondingDelay <= voteWindow) _refuse("unbonding delay not above the vote window");
        // One block's producer knows the next block's prevrandao: a seed two blocks on is unknown at submission.
        if (challengeDelay < 2) _refuse("challenge delay below 2 blocks");
        // Chains without a RANDAO beacon report a small constant (EIP-4399: values above 2^64 are RANDAO's).
        if (block.prevrandao <= type(uint64).max) _refuse("chain has no RANDAO (prevrandao at most 2^64)");
        MIN_STAKE = minStake;
        UNBONDING_DELAY = unbondingDelay;
        CHALLENGE_DELAY = challengeDelay;
        VOTE_WINDOW = voteWindow;
        MIN_REVEAL_WINDOW = 60 + 30 * uint40(challengeDelay) + 3 * voteWindow;
    }

    /// @dev Votes on a delta settle once its trap window (the VOTE_WINDOW after its reveal phase) is over.
    function _requireSettled(uint256 deltaId, Delta storage d) internal view {
        uint256 opensAt = uint256(d.revealedAt) + 3 * uint256(VOTE_WINDOW);
        if (!d.revealed || block.timestamp <= opensAt) revert NotSettled(deltaId, opensAt);
    }

    /// @dev A merge dispute's id: one per finalized merge, also after a rollback and a new merge of that version.
    function _disputeIdOf(uint256 jobId, uint256 expert, uint256 version, uint256 finalizedAt)
        internal
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encode(jobId, expert, version, finalizedAt, "dispute")));
    }

    /// @notice The expert's latest version (0 before its first merge).
    function versionOf(uint256 jobId, uint256 expert) external view returns (uint32) {
        return heads[jobId][expert].version;
    }

    /// @notice When the expert's latest version was finalized (0 once rolled back): it may be disputed, and a
    ///         passed delta it left out reported, for VOTE_WINDOW after; the next merge, claims and deltas
    ///         trained on it wait for that.
    function mergedAt(uint256 jobId, uint256 expert) external view returns (uint40) {
        return heads[jobId][expert].mergedAt;
    }

    /// @notice Whether the expert's latest merge can no longer be disputed or rolled back: its window is over and
    ///         no dispute of it is unresolved (true before any merge).
    function mergeSettled(uint256 jobId, uint256 expert) public view returns (bool) {
        Head storage head = heads[jobId][expert];
        uint256 at = head.mergedAt;
        return at == 0 || (block.timestamp > at + VOTE_WINDOW && !head.disputed);
    }

    /// @dev Revert with `MergeNotSettled` unless `mergeSettled`.
    function _requireMergeSettled(uint256 jobId, uint16 expert) internal view {
        if (!mergeSettled(jobId, expert)) {
            revert MergeNotSettled(jobId, expert, heads[jobId][expert].mergedAt + VOTE_WINDOW);
        }
    }

    /// @dev Take an account's stake out of `validatorStake` (before it changes, unbonds or is slashed), if counted.
    function _uncount(Stake storage s) internal {
        if (s.roles & ROLE_VALIDATOR != 0 && !s.slashed && s.unbondAt == 0) validatorStake -= s.amount;
    }

    /// @dev One place that encodes InvalidTerms, instead of one per refused term.
    function _refuse(string memory what) internal pure {
        revert InvalidTerms(what);
    }

    function _openJob(uint256 jobId) internal view returns (Job storage job) {
        job = jobs[jobId];
        if (job.requester == address(0)) revert UnknownJob(jobId);
        if (job.closed) revert JobClosed(jobId);
    }

    function _requireActive(address account, uint8 role) internal view returns (Stake storage s) {
        s = stakes[account];
        if (s.slashed) revert IsSlashed(account);
        if (s.roles & role == 0 || s.amount < MIN_STAKE) revert NotStaked(account, role);
        if (s.unbondAt != 0) revert Unbonding(account);
    }
}
