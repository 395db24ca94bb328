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
    ///         Sent by the trap's own miner (the requester's account), holding the list and salt the requester
    ///         sealed: a requester that seals the predictable id of another miner's delta cannot expose it.
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

    /// @notice The id of a dispute of the expert's merge `version` finalized at `finalizedAt` (`mergedAt`).
    function disputeIdOf(uint256 jobId, uint16 expert, uint32 version, uint40 finalizedAt)
        external
        pure
        returns (uint256);

    /// @notice Dispute the expert's latest merge within VOTE_WINDOW of its finalize (anyone; msg.value is the
    ///         bond, MIN_STAKE at least): a committee drawn from validator stake (never the aggregator), by the
    ///         seed `fixChallenge` records from the block CHALLENGE_DELAY after the dispute, rebuilds the
    ///         checkpoint from the merged deltas (`paris verify-merge`) and votes on it like on a delta, pass
    ///         meaning the merge stands. The next merge of the expert, and claims of its payouts, wait for the
    ///         outcome (`resolveDispute`).
    /// @param jobId the job
    /// @param expert the expert whose latest merge is disputed
    /// @return disputeId the id its votes are cast on
    function disputeMerge(uint256 jobId, uint16 expert) external payable returns (uint256 disputeId);

    /// @notice Settle a decided dispute (anyone may call, with the merge's record from its ExpertFinalized event):
    ///         refuted, the merge is rolled back (its deltas passed and unpriced again, the version reopened) and
    ///         the aggregator loses its whole stake, half to the disputer (with its bond back) and half to the fail
    ///         voters; upheld, the bond goes to the aggregator; undecided once voting is over, it goes back.
    /// @param disputeId the dispute
    /// @param checkpointDigest the disputed merge's checkpoint digest
    /// @param checkpointCodec the disputed merge's checkpoint codec
    /// @param mergedDeltaIds the disputed merge's delta ids, in merge order
    function resolveDispute(uint256 disputeId, bytes32 checkpointDigest, uint32 checkpointCodec,
        uint256[] calldata mergedDeltaIds) external;

    /// @notice Prove the expert's latest merge left out a passed delta it had to include (decidable for a whole
    ///         VOTE_WINDOW before the merge, and within the staleness bound), within VOTE_WINDOW of the finalize:
    ///         the merge is rolled back and the aggregator loses its whole stake, half to the caller, half burned.
    /// @param deltaId the passed delta left out
    /// @param checkpointDigest the merge's checkpoint digest
    /// @param checkpointCodec the merge's checkpoint codec
    /// @param mergedDeltaIds the merge's delta ids, in merge order
    function reportOmission(uint256 deltaId, bytes32 checkpointDigest, uint32 checkpointCodec,
        uint256[] calldata mergedDeltaIds) external;

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
