// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IParisMarketTypes} from "./IParisMarket.sol";

/// @title IParisCourt
/// @notice The market's calls for votes, verdicts, traps and slashing: sent to the market's address, they run in
///         `ParisCourt`'s code on the market's storage.
interface IParisCourt is IParisMarketTypes {
    /// @notice Seal a verdict on a revealed delta, within VOTE_WINDOW of its reveal: the commitment is
    ///         `voteCommitment(deltaId, validator, pass, score, salt)`, so nobody can copy another's verdict. Active
    ///         validators on the delta's committee only (`onCommittee`), never the miner.
    /// @param deltaId the delta checked
    /// @param commitment the sealed vote
    function commitVote(uint256 deltaId, bytes32 commitment) external;

    /// @notice Whether `validator` sits on the delta's committee: drawn, once the delta is revealed, from its
    ///         challenge seed with probability min(1, COMMITTEE_SIZE x its stake / validatorStake), so a
    ///         validator's work is bounded, and nobody knows a delta's voters before its reveal.
    function onCommittee(uint256 deltaId, address validator) external view returns (bool);

    /// @notice Open a sealed vote in the VOTE_WINDOW after the commit phase; it counts with the validator's stake.
    ///         A sealed vote left unrevealed is slashable like a wrong one.
    /// @param deltaId the delta
    /// @param pass whether the spot checks and structure checks passed
    /// @param score useful-work score in [0, MAX_SCORE] (ignored for a fail)
    /// @param salt the secret the commitment was sealed with
    function revealVote(uint256 deltaId, bool pass, uint32 score, bytes32 salt) external;

    /// @notice The commitment `commitVote` takes: keccak256(abi.encode(deltaId, validator, pass, score, salt)).
    function voteCommitment(uint256 deltaId, address validator, bool pass, uint32 score, bytes32 salt)
        external
        pure
        returns (bytes32);

    /// @notice Decide a delta once its reveal phase is over (anyone may call): Passed when the revealed pass votes
    ///         hold more stake than the fail votes, Failed when fewer; at least `quorum` revealed votes needed.
    /// @param deltaId the delta
    function decide(uint256 deltaId) external;

    /// @notice Seal, once per job and before planting them, the trap deltas the requester will submit from
    ///         accounts of its own: deltas built to fail a replay, which catch validators that pass unchecked.
    /// @param jobId the job (requester only)
    /// @param digest keccak256(abi.encode(jobId, trapDeltaIds, salt)); delta ids are predictable (`deltaIdOf`)
    function commitTraps(uint256 jobId, bytes32 digest) external;

    /// @notice Prove a revealed delta one of the job's sealed traps, in its trap window (the VOTE_WINDOW after its
    ///         reveal phase): its verdict becomes Fail, its pass voters slashable; unmerged, it is released.
    /// @param deltaId the trap
    /// @param trapDeltaIds the sealed list
    /// @param salt the list's salt
    function exposeTrap(uint256 deltaId, uint256[] calldata trapDeltaIds, bytes32 salt) external;

    /// @notice Slash a validator whose revealed vote on a delta goes against its verdict, or whose sealed vote was
    ///         never revealed, once the delta's trap window is over: its whole stake, half to the caller (anyone
    ///         but that validator) and half burned; all burned when the delta was a trap.
    /// @param deltaId the delta voted on
    /// @param validator the wrong voter
    function slashVoter(uint256 deltaId, address validator) external;

    /// @notice Credit the caller's fee for each delta whose verdict its revealed vote matched, once the delta's
    ///         trap window is over, from the job's fee pool (as far as it goes); a fail vote earns once the miner
    ///         was slashed (or the trap exposed), with an equal share of the slashed stake's voters' half.
    /// @param deltaIds decided deltas the caller voted on
    function collect(uint256[] calldata deltaIds) external;

    /// @notice Slash the miner of a delta that failed its spot checks (decided Failed; the reporter must be one
    ///         of its fail voters, and the voters share half the stake) or whose reveal window closed without a
    ///         reveal (any validator but the miner reports it and takes that half). The other half goes to the job's
    ///         escrow (to its requester when closed). A failed delta is slashable until it is released.
    /// @param deltaId the cheating delta
    /// @param reason FailedSpotCheck or WithheldReveal
    /// @param evidenceDigest sha2-256 digest of the evidence file's CID on IPFS
    /// @param evidenceCodec multicodec of the evidence file's CID
    function slash(uint256 deltaId, SlashReason reason, bytes32 evidenceDigest, uint32 evidenceCodec) external;
}
