// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ParisMarket
/// @notice Jobs escrow a reward for training a set of experts; miners submit pseudo-gradient deltas
///         against an expert's checkpoint version. This is the walking skeleton; stakes, challenges,
///         scores, merges and payouts follow.
/// @dev CIDs are stored as (sha2-256 digest, multicodec) pairs: CIDv1 with a sha2-256 multihash is
///      rebuilt from them off-chain, and a bytes32 costs one slot instead of a dynamic string.
contract ParisMarket {
    struct Job {
        address requester;
        uint96 escrow;
        uint16 experts;
        uint32 specCodec;
        bytes32 specDigest;
    }

    /// @notice Jobs by id; ids start at 1 so that 0 means "none".
    mapping(uint256 => Job) public jobs;
    uint256 public jobCount;
    uint256 public deltaCount;
    /// @notice Whether a miner already submitted for (job, expert, base version).
    mapping(bytes32 => bool) public submitted;

    error ZeroEscrow();
    error ZeroExperts();
    error EscrowTooLarge(uint256 value);
    error UnknownJob(uint256 jobId);
    error ExpertOutOfRange(uint256 jobId, uint16 expert, uint16 experts);
    error DuplicateDelta(uint256 jobId, uint16 expert, uint32 baseVersion, address miner);

    event JobCreated(
        uint256 indexed jobId,
        address indexed requester,
        uint256 escrow,
        uint16 experts,
        bytes32 specDigest,
        uint32 specCodec
    );
    event DeltaSubmitted(
        uint256 indexed jobId,
        uint256 indexed deltaId,
        address indexed miner,
        uint16 expert,
        uint32 baseVersion,
        bytes32 deltaDigest,
        uint32 deltaCodec,
        bytes32 traceRoot
    );

    /// @notice Open a job whose spec lives on IPFS, escrowing msg.value as its reward.
    /// @param specDigest sha2-256 digest of the job spec's CID
    /// @param specCodec multicodec of the job spec's CID (0x55 raw, 0x70 dag-pb)
    /// @param experts number of experts (data shards) the job trains
    /// @return jobId the new job's id
    function createJob(bytes32 specDigest, uint32 specCodec, uint16 experts) external payable returns (uint256 jobId) {
        if (msg.value == 0) revert ZeroEscrow();
        if (msg.value > type(uint96).max) revert EscrowTooLarge(msg.value);
        if (experts == 0) revert ZeroExperts();
        jobId = ++jobCount;
        jobs[jobId] = Job(msg.sender, uint96(msg.value), experts, specCodec, specDigest);
        emit JobCreated(jobId, msg.sender, msg.value, experts, specDigest, specCodec);
    }

    /// @notice Submit a delta trained on `expert`'s checkpoint `baseVersion`; one per miner and version.
    /// @param jobId the job trained
    /// @param expert index of the expert, below the job's expert count
    /// @param baseVersion checkpoint version the delta was computed from
    /// @param deltaDigest sha2-256 digest of the delta's CID
    /// @param deltaCodec multicodec of the delta's CID
    /// @param traceRoot Merkle root of the miner's training trace
    /// @return deltaId the new delta's id
    function submitDelta(
        uint256 jobId,
        uint16 expert,
        uint32 baseVersion,
        bytes32 deltaDigest,
        uint32 deltaCodec,
        bytes32 traceRoot
    ) external returns (uint256 deltaId) {
        Job storage job = jobs[jobId];
        if (job.requester == address(0)) revert UnknownJob(jobId);
        if (expert >= job.experts) revert ExpertOutOfRange(jobId, expert, job.experts);
        bytes32 key = keccak256(abi.encode(jobId, expert, baseVersion, msg.sender));
        if (submitted[key]) revert DuplicateDelta(jobId, expert, baseVersion, msg.sender);
        submitted[key] = true;
        deltaId = ++deltaCount;
        emit DeltaSubmitted(jobId, deltaId, msg.sender, expert, baseVersion, deltaDigest, deltaCodec, traceRoot);
    }
}
