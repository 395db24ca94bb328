// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IParisMarketTypes
/// @notice The market's types, errors and events, each documented once, shared by both halves of the market;
///         off-chain code reads the errors' notices from the build output as its revert hints.
interface IParisMarketTypes {
    enum DeltaState {
        None,
        Submitted,
        Passed,
        Failed,
        Merged,
        Paid,
        Slashed,
        Released // settled without a merge or a slash; its stake is free again
    }
    /// @notice A validator's vote on one delta: sealed (`Committed`) until the reveal phase, then `Pass` or `Fail`;
    ///         `Collected` once its fee (and slashing share) was paid.
    enum Vote {
        None,
        Committed,
        Pass,
        Fail,
        Collected
    }
    /// @notice A delta's verdict: the stake-weighted majority of revealed votes, or `Fail` once a trap is exposed.
    enum Verdict {
        None,
        Pass,
        Fail
    }
    enum SlashReason {
        FailedSpotCheck,
        WithheldReveal
    }

    /// @notice What a requester fixes when opening a job.
    struct JobTerms {
        bytes32 specDigest;
        uint32 specCodec;
        uint16 experts;
        uint32 rounds; // checkpoint versions per expert
        uint96 rewardPerRound; // shared by the experts' merges of one round
        uint64 validatorFee; // paid, from the fee pool, per vote that matches the delta's decided verdict
        uint40 deadline; // unix time after which no delta is taken; the requester may reclaim 2 reveal windows later
        uint24 revealWindow; // seconds a miner has to reveal challenged states after submitting
        uint16 stalenessBound; // how many versions behind a delta's base may be when merged
        uint8 quorum; // revealed validator votes a delta's decision needs at least
        uint8 challenges; // random segments challenged per delta, besides the last one (always challenged)
        address aggregator;
    }

    struct Job {
        address requester;
        uint16 experts;
        uint32 rounds;
        uint16 stalenessBound;
        uint8 quorum;
        uint8 challenges;
        bool closed;
        address aggregator;
        uint40 deadline;
        uint24 revealWindow;
        uint32 specCodec;
        uint96 escrow; // reserved for rewards: rounds x rewardPerRound at creation, less what merges priced
        uint96 rewardPerRound;
        uint64 validatorFee;
        uint96 feePool; // what validator fees are paid from: the escrow beyond the rewards, and top-ups
        bytes32 specDigest;
    }

    struct Delta {
        address miner;
        uint32 baseVersion;
        uint16 expert;
        DeltaState state;
        uint40 submittedAt;
        uint48 jobId;
        uint40 submittedBlock;
        uint16 segments;
        uint8 passVotes;
        uint8 failVotes;
        bool revealed;
        uint32 scoreSum; // the pass votes' scores; their mean once the delta passed
        uint96 payout; // a merged delta's reward; for a slashed one, what its fail voters share
        uint40 revealedAt; // votes are committed for VOTE_WINDOW after it, then revealed for VOTE_WINDOW
        uint96 passWeight; // the stake behind the revealed pass votes
        uint96 failWeight;
        Verdict verdict;
        bool trapped; // its requester proved it a trap: a delta planted to fail, which a pass vote never should
        uint8 lane; // which of its miner's deltas on this base it is (0 first); see `submitDelta`
    }

    struct Stake {
        uint96 amount;
        uint8 roles;
        bool slashed;
        uint40 unbondAt; // 0 while bonded
        uint16 open; // deltas submitted and not yet settled (paid, slashed or released); each needs MIN_STAKE
    }

    /// @notice A requester's sealed list of trap deltas: keccak256(abi.encode(jobId, trapDeltaIds, salt)).
    struct TrapCommitment {
        bytes32 digest;
        uint64 block; // the block it was committed in; only deltas submitted later can be exposed as traps
    }

    /// @notice Where a private job's current keyring (its data keys sealed to admitted nodes) lies on IPFS.
    struct KeyringRef {
        bytes32 digest;
        uint32 codec;
    }

    /// @notice send a positive amount of ETH with the call
    error ZeroEscrow();
    /// @notice fix the job terms named in the error
    error InvalidTerms(string what);
    /// @notice no job has this id on this market; check the id and the contract address
    error UnknownJob(uint256 jobId);
    /// @notice the requester closed this job and reclaimed its escrow
    error JobClosed(uint256 jobId);
    /// @notice only the account that created the job may do this
    error NotRequester(uint256 jobId, address caller);
    /// @notice only the job's aggregator may finalize its checkpoints
    error NotAggregator(uint256 jobId, address caller);
    /// @notice escrow can be reclaimed only once the job's deadline and its finalize grace (2 reveal windows) passed
    error DeadlineNotReached(uint256 jobId, uint256 reclaimableAt);
    /// @notice the job's deadline has passed; it takes no more deltas
    error DeadlinePassed(uint256 jobId, uint256 deadline);
    /// @notice bond more: the market's minimum stake, and that much again for every unsettled delta
    error StakeTooSmall(uint256 amount, uint256 minimum);
    /// @notice this account still has unsettled deltas: claim, wait for their decision, or `release` them first
    error OutstandingDeltas(address account, uint16 open);
    /// @notice roles are 1 (miner), 2 (validator) or 3 (both)
    error InvalidRoles(uint8 roles);
    /// @notice this account needs a stake with that role first
    error NotStaked(address account, uint8 role);
    /// @notice this account was slashed and can no longer take part or withdraw its stake
    error IsSlashed(address account);
    /// @notice this account is unbonding: it can neither work nor add stake
    error Unbonding(address account);
    /// @notice request unbonding first, then wait out the unbonding delay
    error NotUnbonding(address account);
    /// @notice wait until the unbonding delay is over
    error UnbondingNotOver(address account, uint256 unbondAt);
    /// @notice the job has fewer experts than that index
    error ExpertOutOfRange(uint256 jobId, uint16 expert, uint16 experts);
    /// @notice train from the expert's current checkpoint version or an earlier one
    error FutureVersion(uint32 baseVersion, uint32 current);
    /// @notice the base checkpoint is too old: fetch the expert's current checkpoint and train again
    error TooStale(uint32 baseVersion, uint32 current, uint16 bound);
    /// @notice this miner already submitted for this expert, version and lane; use the next lane or version
    error DuplicateDelta(uint256 jobId, uint16 expert, uint32 baseVersion, uint8 lane, address miner);
    /// @notice a miner's lanes on one version run from 0 to the job's staleness bound
    error LaneOutOfRange(uint8 lane, uint16 bound);
    /// @notice a trace has at least one segment
    error InvalidSegments(uint16 segments);
    /// @notice no delta has this id
    error UnknownDelta(uint256 deltaId);
    /// @notice only the delta's miner can reveal its challenged states
    error NotMiner(uint256 deltaId, address caller);
    /// @notice the challenge is fixed by a later block; wait until that block is mined
    error ChallengeNotReady(uint256 deltaId, uint256 readyAtBlock);
    /// @notice the challenge block is more than 256 blocks old and its hash is gone
    error ChallengeExpired(uint256 deltaId);
    /// @notice the header given does not hash to the challenge block's hash
    error WrongHeader(uint256 deltaId, uint256 blockNumber);
    /// @notice nobody has fixed this delta's challenge yet (`fixChallenge` with its challenge block's header)
    error ChallengeNotFixed(uint256 deltaId);
    /// @notice this delta's challenged states were already revealed
    error AlreadyRevealed(uint256 deltaId);
    /// @notice the reveal window closed; the delta can now be slashed for withholding
    error RevealWindowClosed(uint256 deltaId, uint256 closedAt);
    /// @notice the miner may still reveal; report a withheld reveal after the window closes
    error RevealWindowOpen(uint256 deltaId, uint256 closesAt);
    /// @notice each validator votes on a delta once
    error AlreadyVoted(uint256 deltaId, address validator);
    /// @notice the delta was decided already, or settled without a vote
    error AlreadyDecided(uint256 deltaId, DeltaState state);
    /// @notice scores run from 0 to 10000
    error ScoreOutOfRange(uint32 score);
    /// @notice votes are taken only once the miner has revealed its challenged states
    error VoteBeforeReveal(uint256 deltaId);
    /// @notice votes are committed within VOTE_WINDOW of the miner's reveal; this delta's commit phase is over
    error VotingClosed(uint256 deltaId, uint256 closedAt);
    /// @notice a sealed vote is revealed in the VOTE_WINDOW after the commit phase, from `opensAt` to `closesAt`
    error NotRevealPhase(uint256 deltaId, uint256 opensAt, uint256 closesAt);
    /// @notice the delta's committee, drawn by stake from its seed, left this validator out: it does not vote on it
    error NotOnCommittee(uint256 deltaId, address validator);
    /// @notice reveal exactly the verdict, score and salt the commitment sealed (see `voteCommitment`)
    error VoteMismatch(uint256 deltaId, address validator);
    /// @notice a delta is decided once its votes were revealed: wait until `endsAt`
    error VotingNotOver(uint256 deltaId, uint256 endsAt);
    /// @notice too few revealed votes for the quorum, or equal stake on both sides: release it later
    error NoVerdict(uint256 deltaId);
    /// @notice votes are settled (fees collected, wrong voters slashed) once the trap window closes at `opensAt`
    error NotSettled(uint256 deltaId, uint256 opensAt);
    /// @notice the requester commits its trap list once, with `commitTraps`
    error TrapsAlreadyCommitted(uint256 jobId);
    /// @notice a trap is exposed by the job's trap list, for a revealed delta submitted after it, in its trap window
    error NotExposable(uint256 deltaId);
    /// @notice a trap is exposed from the account that submitted it: a requester cannot frame another miner's delta
    error NotTrapMiner(uint256 deltaId, address caller);
    /// @notice only a revealed vote against the delta's verdict, or a sealed vote never revealed, is slashable
    error RightVote(uint256 deltaId, address validator);
    /// @notice a miner can neither vote on nor report its own delta
    error OwnDelta(uint256 deltaId, address miner);
    /// @notice only a vote that matches the delta's decided verdict earns, once (a failed delta's after its slash)
    error NothingToCollect(uint256 deltaId, address validator);
    /// @notice release only passed deltas past merging, and undecided or unslashed ones 4 reveal windows old
    error NotReleasable(uint256 deltaId, DeltaState state);
    /// @notice finalize the expert's next version (current + 1)
    error WrongVersion(uint32 newVersion, uint32 expected);
    /// @notice this expert finished all of the job's rounds
    error AllRoundsDone(uint256 jobId, uint16 expert);
    /// @notice a merge needs at least one passing delta that it reads
    error NothingToMerge();
    /// @notice only passing deltas that were not merged yet can be merged
    error NotMergeable(uint256 deltaId, DeltaState state);
    /// @notice that delta belongs to another job or expert
    error DeltaOfOtherExpert(uint256 deltaId, uint256 jobId, uint16 expert);
    /// @notice only merged, unpaid deltas have a payout to claim
    error NothingToClaim(uint256 deltaId, DeltaState state);
    /// @notice this delta gives no grounds for that slashing reason
    error NotSlashable(uint256 deltaId, SlashReason reason);
    /// @notice nothing is credited to this account yet
    error NothingOwed(address account);
    /// @notice the receiving account rejected the payment; withdraw to an account that accepts ETH
    error TransferFailed(address to, uint256 amount);
    /// @notice the expert's latest merge may still be disputed: wait until `settlesAt` and any dispute's end
    error MergeNotSettled(uint256 jobId, uint16 expert, uint256 settlesAt);
    /// @notice only a merged version can be disputed
    error NothingToDispute(uint256 jobId, uint16 expert);
    /// @notice a merge can be disputed only within VOTE_WINDOW of its finalize
    error DisputeWindowClosed(uint256 jobId, uint16 expert, uint256 closedAt);
    /// @notice that merge is already disputed: vote on (or resolve) the open dispute
    error AlreadyDisputed(uint256 disputeId);
    /// @notice no merge dispute has that id
    error NotADispute(uint256 disputeId);
    /// @notice the dispute has a verdict: `decide` it before resolving
    error UndecidedDispute(uint256 disputeId);
    /// @notice the dispute was already resolved
    error AlreadyResolved(uint256 disputeId);
    /// @notice the checkpoint and delta ids given are not what the merge recorded: take them from ExpertFinalized
    error WrongMergeRecord(uint256 jobId, uint16 expert, uint32 version);
    /// @notice the delta was not left out of the expert's latest merge, or that merge can no longer be reported
    error NotOmitted(uint256 deltaId);
    /// @notice an X25519 public key cannot be all zero bytes: derive the key from the account (paris daemons do)
    error ZeroKey();

    /// @notice A requester opened a job and escrowed its reward; `terms` are the terms it fixed.
    event JobCreated(
        uint256 indexed jobId,
        address indexed requester,
        address indexed aggregator,
        uint256 escrow,
        bytes32 specDigest,
        uint32 specCodec,
        JobTerms terms
    );
    /// @notice Someone added ETH to an open job's fee pool.
    event JobToppedUp(uint256 indexed jobId, address indexed from, uint256 amount, uint256 feePool);
    /// @notice After its deadline the requester closed a job; `amount` of unearned escrow was credited back.
    event JobReclaimed(uint256 indexed jobId, address indexed requester, uint256 amount);
    /// @notice An account bonded `amount` more as `roles` (its bond is now `total`).
    event Staked(address indexed account, uint8 roles, uint256 amount, uint256 total);
    /// @notice An account published the X25519 key that private jobs seal data keys to.
    event KeyRegistered(address indexed account, bytes32 x25519Key);
    /// @notice A private job's requester pointed it at a new keyring (a node was admitted or removed).
    event KeyringSet(uint256 indexed jobId, bytes32 keyringDigest, uint32 keyringCodec);
    /// @notice An account stopped working; its stake can be withdrawn from `unbondAt` on.
    event UnbondRequested(address indexed account, uint256 unbondAt);
    /// @notice An unbonded stake moved into the account's withdrawable balance.
    event StakeWithdrawn(address indexed account, uint256 amount);
    /// @notice A miner submitted a delta trained from an expert's checkpoint `baseVersion`, committing to its trace.
    event DeltaSubmitted(
        uint256 indexed jobId,
        uint256 indexed deltaId,
        address indexed miner,
        uint16 expert,
        uint32 baseVersion,
        uint8 lane,
        bytes32 deltaDigest,
        uint32 deltaCodec,
        bytes32 traceRoot,
        uint16 segments
    );
    /// @notice Someone recorded a delta's challenge seed before its block hash aged out.
    event ChallengeFixed(uint256 indexed deltaId, bytes32 seed);
    /// @notice A delta's miner posted the CID of its challenged segment states; `seed` picked the segments.
    event Revealed(uint256 indexed deltaId, address indexed miner, bytes32 revealDigest, uint32 revealCodec, bytes32 seed);
    /// @notice A validator sealed its vote on a revealed delta.
    event VoteCommitted(uint256 indexed deltaId, address indexed validator);
    /// @notice A validator opened its sealed vote; `weight` (its stake) counts towards the verdict.
    event VoteRevealed(uint256 indexed deltaId, address indexed validator, bool pass, uint32 score, uint256 weight);
    /// @notice A validator whose vote matched a delta's verdict was credited its fee (and, for a slashed delta,
    ///         its share of the slashed stake).
    event Collected(uint256 indexed deltaId, address indexed validator, uint256 fee, uint256 slashShare);
    /// @notice A delta settled without a merge or a slash; its miner's stake no longer backs it.
    event Released(uint256 indexed deltaId, address indexed miner, DeltaState from);
    /// @notice The stake-weighted majority of a delta's revealed votes decided it; `meanScore` is its pass voters'
    ///         mean score.
    event DeltaDecided(uint256 indexed deltaId, bool passed, uint32 meanScore);
    /// @notice A requester sealed the list of trap deltas it will plant in a job.
    event TrapsCommitted(uint256 indexed jobId, bytes32 digest);
    /// @notice A requester proved a delta one of its traps: its verdict is now Fail, whatever the votes said.
    event TrapExposed(uint256 indexed deltaId, DeltaState from);
    /// @notice A validator lost its whole stake for a vote against the verdict (or a sealed vote never revealed):
    ///         half to `reporter`, half burned (all of it burned for a trap, so no requester gains by one).
    event VoterSlashed(
        uint256 indexed deltaId, address indexed validator, address indexed reporter, uint256 amount, uint256 toReporter
    );
    /// @notice The aggregator merged `mergedDeltaIds` into the expert's checkpoint `version`, pricing them from
    ///         `reward`; the last `unavailable` of them it could not read: paid, not in the checkpoint.
    event ExpertFinalized(
        uint256 indexed jobId,
        uint16 indexed expert,
        uint32 indexed version,
        bytes32 checkpointDigest,
        uint32 checkpointCodec,
        uint256[] mergedDeltaIds,
        uint16 unavailable,
        uint256 reward
    );
    /// @notice A merged delta's payout moved into its miner's withdrawable balance.
    event DeltaPaid(uint256 indexed deltaId, address indexed miner, uint256 amount);
    /// @notice A cheating miner lost `amount` of stake: half to the job's escrow, half to the validators who
    ///         voted the failure (collected with `collect`), or to `reporter` for a withheld reveal.
    event Slashed(
        uint256 indexed deltaId,
        address indexed miner,
        address indexed reporter,
        SlashReason reason,
        uint256 amount,
        bytes32 evidenceDigest,
        uint32 evidenceCodec
    );
    /// @notice The requester named a new aggregator for its job.
    event AggregatorSet(uint256 indexed jobId, address indexed aggregator);
    /// @notice Someone disputed the expert's merge `version`, bonding `bond`; the committee votes on `disputeId`.
    event MergeDisputed(
        uint256 indexed jobId,
        uint16 indexed expert,
        uint32 version,
        uint256 indexed disputeId,
        address disputer,
        uint256 bond
    );
    /// @notice A dispute was settled from its state `from` (Failed: the merge was refuted); `paidTo` got `amount`.
    event DisputeResolved(uint256 indexed disputeId, DeltaState from, address indexed paidTo, uint256 amount);
    /// @notice The expert's merge `version` was undone: its deltas are passed again, the version open again.
    event MergeRolledBack(uint256 indexed jobId, uint16 indexed expert, uint32 version);
    /// @notice A job's aggregator lost its whole stake for a merge that was refuted or left a passed delta out.
    event AggregatorSlashed(uint256 indexed jobId, address indexed aggregator, address indexed reporter, uint256 amount);
    /// @notice `reporter` proved the delta left out of its expert's latest merge, earning `reward`.
    event OmissionReported(uint256 indexed deltaId, address indexed reporter, uint256 reward);
    /// @notice An account was sent everything credited to it.
    event Withdrawn(address indexed account, uint256 amount);
}

/// @title IParisMarket
/// @notice The market's calls for jobs, stakes, deltas, merges and payouts; `ParisMarket` implements them, and takes
///         the calls of `IParisCourt` too.
interface IParisMarket is IParisMarketTypes {
    /// @notice Open a job, escrowing msg.value: every round's reward is reserved, the rest pays validator fees.
    ///         Refused: no escrow, no experts or rounds, a quorum outside 1..MAX_QUORUM, challenges outside
    ///         1..MAX_CHALLENGES, a reveal window under MIN_REVEAL_WINDOW, a past deadline.
    /// @param terms the job's spec CID, shape, rewards, deadlines and aggregator
    /// @return jobId the new job's id (ids start at 1)
    function createJob(JobTerms calldata terms) external payable returns (uint256 jobId);

    /// @notice Add msg.value to an open job's fee pool.
    /// @param jobId the job to fund
    function topUp(uint256 jobId) external payable;

    /// @notice Point an open private job at a new keyring (after admitting or removing a node); requester only.
    /// @param jobId the job
    /// @param keyringDigest sha2-256 digest of the keyring's CID
    /// @param keyringCodec multicodec of the keyring's CID
    function setKeyring(uint256 jobId, bytes32 keyringDigest, uint32 keyringCodec) external;

    /// @notice Once the deadline and the finalize grace after it (2 reveal windows) passed, close the job and
    ///         credit its unearned escrow and fee pool to the requester.
    /// @param jobId the job to close
    function reclaim(uint256 jobId) external;

    /// @notice Name a new aggregator for the job (requester only), once every expert's latest merge is settled.
    /// @param jobId the job
    /// @param aggregator the account that finalizes its merges from now on (it must stake as ROLE_AGGREGATOR)
    function setAggregator(uint256 jobId, address aggregator) external;

    /// @notice Bond msg.value (added to any existing bond) as a miner, validator and/or aggregator.
    /// @param roles any of ROLE_MINER, ROLE_VALIDATOR and ROLE_AGGREGATOR, or'ed
    function stake(uint8 roles) external payable;

    /// @notice Publish (or replace) the caller's X25519 public key, which private jobs seal data keys to.
    ///         Any account may register one: miners, validators and aggregators alike.
    /// @param x25519Key the 32-byte public key
    function registerKey(bytes32 x25519Key) external;

    /// @notice Stop working and start the unbonding delay; the stake can be withdrawn when it is over.
    function requestUnbond() external;

    /// @notice Move a fully unbonded, unslashed stake with no unsettled deltas into the caller's balance.
    function withdrawStake() external;

    /// @notice Settle a delta that will neither be merged nor slashed, so its miner's stake stops backing it:
    ///         a passed delta that can no longer be merged (too stale, rounds done, job closed or past its
    ///         reclaim time: deadline + 2 reveal windows), or a revealed delta still undecided, or failed but
    ///         unslashed, four reveal windows after its submission (one after voting closed).
    ///         Anyone may call.
    /// @param deltaId the delta
    function release(uint256 deltaId) external;

    /// @notice Submit a delta trained from `expert`'s checkpoint `baseVersion`; one per miner, version and lane.
    ///         A miner that trains again from the same checkpoint while its first delta is being checked (on
    ///         other data: the lane is part of every data draw) submits it in the next lane; lanes run up to
    ///         the job's staleness bound, the most merges a delta may wait. The miner's stake must cover
    ///         MIN_STAKE for this and every other unsettled delta.
    /// @param jobId the job trained
    /// @param expert index of the expert
    /// @param baseVersion checkpoint version the delta was computed from
    /// @param lane 0 for the miner's first delta on this version, then 1, 2, ... up to the staleness bound
    /// @param deltaDigest sha2-256 digest of the delta's CID
    /// @param deltaCodec multicodec of the delta's CID
    /// @param traceRoot Merkle root over the hashes of the segment-boundary states
    /// @param segments number of trace segments (leaves); challenges pick among them
    /// @return deltaId keccak256(jobId, expert, baseVersion, lane, miner) as a uint256
    function submitDelta(
        uint256 jobId,
        uint16 expert,
        uint32 baseVersion,
        uint8 lane,
        bytes32 deltaDigest,
        uint32 deltaCodec,
        bytes32 traceRoot,
        uint16 segments
    ) external returns (uint256 deltaId);

    /// @notice The id a delta of `miner` for (job, expert, base version, lane) has or would have.
    function deltaIdOf(uint256 jobId, uint16 expert, uint32 baseVersion, uint8 lane, address miner)
        external
        pure
        returns (uint256);

    /// @notice The challenge seed of a delta, once `fixChallenge` has recorded it.
    /// @param deltaId the delta
    /// @return seed keccak256(abi.encode(prevrandao of block submittedBlock + CHALLENGE_DELAY, deltaId))
    function challengeSeed(uint256 deltaId) external view returns (bytes32 seed);

    /// @notice Fix a delta's challenge from the RANDAO value (`prevrandao`, the header's mixHash) of the block
    ///         CHALLENGE_DELAY blocks after its submission, proven by that block's RLP header while its hash is
    ///         readable (256 blocks). Unknowable when the delta is submitted; the block's producer cannot grind
    ///         it by ordering transactions as it could a block hash, only withhold its block. Anyone may call
    ///         it (the miner before revealing, validators when a delta stays unrevealed); a second call
    ///         changes nothing.
    /// @param deltaId the delta (or merge dispute, whose committee the seed draws)
    /// @param header the RLP-encoded header of block submittedBlock + CHALLENGE_DELAY
    function fixChallenge(uint256 deltaId, bytes calldata header) external;

    /// @notice The segment indices a delta's miner must reveal: the last segment (which ties the final state, and
    ///         so the delta, to training) first, then min(challenges, segments - 1) distinct draws from the seed
    ///         among the others: keccak256(abi.encode(seed, nonce)) % (segments - 1).
    /// @param deltaId the delta
    /// @return picked segment indices in [0, segments)
    function challengedSegments(uint256 deltaId) external view returns (uint16[] memory picked);

    /// @notice Post the CID of the challenged segment states, before the reveal window closes (the challenge
    ///         must be fixed first).
    /// @param deltaId the delta
    /// @param revealDigest sha2-256 digest of the reveal's CID
    /// @param revealCodec multicodec of the reveal's CID
    function reveal(uint256 deltaId, bytes32 revealDigest, uint32 revealCodec) external;

    /// @notice Record the merge of passing deltas into `expert`'s next checkpoint and price each merged delta
    ///         from this expert's share of the round reward, in proportion to its score capped at
    ///         SCORE_CAP_X_MEDIAN times the merge's lower median score. The job's aggregator only, staked as
    ///         ROLE_AGGREGATOR, once the expert's previous merge is settled (`MergeNotSettled`). The list must hold
    ///         every passed delta of the expert within the staleness bound that was decidable a VOTE_WINDOW ago
    ///         (`reportOmission`), and the checkpoint must be their merge (`disputeMerge`). A passed delta whose
    ///         content the aggregator cannot read is listed last and counted in `unavailable`: priced and paid
    ///         like the others (its miner did the work the committee checked), left out of the checkpoint, so an
    ///         aggregator gains nothing by calling a delta unavailable and a miner nothing by hiding its own.
    /// @param jobId the job
    /// @param expert the expert whose checkpoint advances
    /// @param newVersion must be the current version + 1
    /// @param checkpointDigest sha2-256 digest of the new checkpoint's CID
    /// @param checkpointCodec multicodec of the new checkpoint's CID
    /// @param mergedDeltaIds the passing deltas merged, in merge order, then those it could not read
    /// @param unavailable how many of the last ids were not read (fewer than all of them)
    function finalize(
        uint256 jobId,
        uint16 expert,
        uint32 newVersion,
        bytes32 checkpointDigest,
        uint32 checkpointCodec,
        uint256[] calldata mergedDeltaIds,
        uint16 unavailable
    ) external;

    /// @notice Credit merged deltas' payouts to their miners' withdrawable balances (anyone may call), once the
    ///         expert's latest merge is settled.
    /// @param deltaIds merged deltas not yet paid
    function claim(uint256[] calldata deltaIds) external;

    /// @notice Send the caller everything credited to it (payouts, fees, slashing rewards, stakes, reclaims).
    function withdraw() external;

    /// @notice A job's terms and remaining escrow.
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice A delta's submission, votes, state and payout.
    function getDelta(uint256 deltaId) external view returns (Delta memory);

    /// @notice An account's bond and roles.
    function getStake(address account) external view returns (Stake memory);
}
