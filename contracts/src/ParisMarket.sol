// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {BlockHeader} from "./BlockHeader.sol";
import {IParisMarket} from "./IParisMarket.sol";
import {MarketState} from "./MarketState.sol";
import {ParisCourt} from "./ParisCourt.sol";

/// @title ParisMarket
/// @notice A market for training video diffusion experts. Requesters escrow rewards for jobs; staked miners
///         submit pseudo-gradient deltas against an expert's checkpoint version; staked validators score
///         them after spot-checking challenged trace segments; the job's aggregator merges passing deltas
///         into the next checkpoint, which credits miners in proportion to their scores. Cheaters are
///         slashed. Stakes back work (MIN_STAKE per unsettled delta, no withdrawal while any is unsettled).
///         Votes are sealed after the reveal and opened later, decided by stake, and earn only when they match
///         the verdict, from a fee pool that never touches the rewards reserved for merges; a vote against the
///         verdict (or against a requester's exposed trap) costs the voter its stake. Payments are pulled with
///         `withdraw`.
/// @dev CIDs are (sha2-256 digest, multicodec) pairs: CIDv1 is rebuilt off-chain. A delta's id is the hash of
///      (job, expert, base version, miner), which makes "one delta per miner and version" a storage check
///      on the delta itself. Merged payouts are parked on the delta and moved to `owed` by `claim`, so a
///      merge never writes a cold balance slot per miner.
contract ParisMarket is MarketState, IParisMarket {
    /// @notice The court whose code runs every IParisCourt call made to this market, on the market's storage.
    address public immutable COURT;

    /// @param minStake smallest bond a miner or validator may hold
    /// @param unbondingDelay seconds between requesting unbonding and withdrawing the stake
    /// @param challengeDelay blocks after submission whose hash fixes the delta's challenge (1..255)
    /// @param voteWindow seconds of each voting phase: commit, reveal, trap exposure
    constructor(uint96 minStake, uint40 unbondingDelay, uint8 challengeDelay, uint40 voteWindow)
        MarketState(minStake, unbondingDelay, challengeDelay, voteWindow)
    {
        COURT = address(new ParisCourt(minStake, unbondingDelay, challengeDelay, voteWindow));
    }

    /// @notice Calls of IParisCourt (votes, verdicts, traps, slashing) run in the court's code on this storage.
    fallback() external payable {
        address court = COURT;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), court, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ---------------------------------------------------------------- jobs and escrow

    /// @inheritdoc IParisMarket
    function createJob(JobTerms calldata terms) external payable returns (uint256 jobId) {
        if (msg.value == 0) revert ZeroEscrow();
        if (msg.value > type(uint96).max) _refuse("escrow above 2^96 wei");
        if (terms.experts == 0 || terms.rounds == 0) _refuse("experts and rounds must be positive");
        if (terms.quorum == 0 || terms.quorum > MAX_QUORUM) _refuse("quorum must be 1..MAX_QUORUM");
        if (terms.challenges == 0 || terms.challenges > MAX_CHALLENGES) {
            _refuse("challenges must be 1..MAX_CHALLENGES");
        }
        if (terms.revealWindow < MIN_REVEAL_WINDOW) _refuse("reveal window below MIN_REVEAL_WINDOW");
        if (terms.aggregator == address(0)) _refuse("aggregator is the zero address");
        if (terms.deadline <= block.timestamp) _refuse("deadline is not in the future");
        uint256 rewards = uint256(terms.rewardPerRound) * terms.rounds;
        if (rewards > msg.value) _refuse("escrow below rounds x reward");
        jobId = ++jobCount;
        jobs[jobId] = Job({
            requester: msg.sender,
            experts: terms.experts,
            rounds: terms.rounds,
            stalenessBound: terms.stalenessBound,
            quorum: terms.quorum,
            challenges: terms.challenges,
            closed: false,
            aggregator: terms.aggregator,
            deadline: terms.deadline,
            revealWindow: terms.revealWindow,
            specCodec: terms.specCodec,
            escrow: uint96(rewards),
            rewardPerRound: terms.rewardPerRound,
            validatorFee: terms.validatorFee,
            feePool: uint96(msg.value - rewards),
            specDigest: terms.specDigest
        });
        emit JobCreated(jobId, msg.sender, terms.aggregator, msg.value, terms.specDigest, terms.specCodec, terms);
    }

    /// @inheritdoc IParisMarket
    function topUp(uint256 jobId) external payable {
        Job storage job = _openJob(jobId);
        if (msg.value == 0) revert ZeroEscrow();
        uint256 pool = uint256(job.feePool) + msg.value;
        if (pool > type(uint96).max) _refuse("fee pool above 2^96 wei");
        job.feePool = uint96(pool);
        emit JobToppedUp(jobId, msg.sender, msg.value, pool);
    }

    /// @inheritdoc IParisMarket
    function setKeyring(uint256 jobId, bytes32 keyringDigest, uint32 keyringCodec) external {
        Job storage job = _openJob(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (keyringDigest == bytes32(0)) revert ZeroKey();
        keyringOf[jobId] = KeyringRef(keyringDigest, keyringCodec);
        emit KeyringSet(jobId, keyringDigest, keyringCodec);
    }

    /// @inheritdoc IParisMarket
    function reclaim(uint256 jobId) external {
        Job storage job = _openJob(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        uint256 reclaimableAt = uint256(job.deadline) + 2 * uint256(job.revealWindow);
        if (block.timestamp <= reclaimableAt) revert DeadlineNotReached(jobId, reclaimableAt);
        for (uint16 expert; expert < job.experts; ++expert) {
            _requireMergeSettled(jobId, expert); // a merge rolled back later re-credits the escrow
        }
        uint256 amount = uint256(job.escrow) + job.feePool;
        job.escrow = 0;
        job.feePool = 0;
        job.closed = true;
        owed[msg.sender] += amount;
        emit JobReclaimed(jobId, msg.sender, amount);
    }

    /// @inheritdoc IParisMarket
    function setAggregator(uint256 jobId, address aggregator) external {
        Job storage job = _openJob(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (aggregator == address(0)) _refuse("aggregator is the zero address");
        for (uint16 expert; expert < job.experts; ++expert) {
            _requireMergeSettled(jobId, expert); // a merge is disputed against the aggregator that made it
        }
        job.aggregator = aggregator;
        emit AggregatorSet(jobId, aggregator);
    }

    // ---------------------------------------------------------------- stakes

    /// @inheritdoc IParisMarket
    function stake(uint8 roles) external payable {
        if (roles == 0 || roles > (ROLE_MINER | ROLE_VALIDATOR | ROLE_AGGREGATOR)) revert InvalidRoles(roles);
        Stake storage s = stakes[msg.sender];
        if (s.slashed) revert IsSlashed(msg.sender);
        if (s.unbondAt != 0) revert Unbonding(msg.sender);
        uint256 total = uint256(s.amount) + msg.value;
        if (total < MIN_STAKE) revert StakeTooSmall(total, MIN_STAKE);
        if (total > type(uint96).max) _refuse("stake above 2^96 wei");
        _uncount(s);
        s.amount = uint96(total);
        s.roles |= roles;
        if (s.roles & ROLE_VALIDATOR != 0) validatorStake += total;
        emit Staked(msg.sender, s.roles, msg.value, total);
    }

    /// @inheritdoc IParisMarket
    function registerKey(bytes32 x25519Key) external {
        if (x25519Key == bytes32(0)) revert ZeroKey();
        x25519KeyOf[msg.sender] = x25519Key;
        emit KeyRegistered(msg.sender, x25519Key);
    }

    /// @inheritdoc IParisMarket
    function requestUnbond() external {
        Stake storage s = stakes[msg.sender];
        if (s.slashed) revert IsSlashed(msg.sender);
        if (s.amount == 0) revert NotStaked(msg.sender, 0);
        if (s.unbondAt != 0) revert Unbonding(msg.sender);
        uint40 unbondAt = uint40(block.timestamp) + UNBONDING_DELAY;
        _uncount(s);
        s.unbondAt = unbondAt;
        emit UnbondRequested(msg.sender, unbondAt);
    }

    /// @inheritdoc IParisMarket
    function withdrawStake() external {
        Stake storage s = stakes[msg.sender];
        if (s.slashed) revert IsSlashed(msg.sender);
        if (s.unbondAt == 0) revert NotUnbonding(msg.sender);
        if (block.timestamp < s.unbondAt) revert UnbondingNotOver(msg.sender, s.unbondAt);
        if (s.open != 0) revert OutstandingDeltas(msg.sender, s.open);
        uint256 amount = s.amount;
        delete stakes[msg.sender];
        owed[msg.sender] += amount;
        emit StakeWithdrawn(msg.sender, amount);
    }

    // ---------------------------------------------------------------- deltas and challenges

    /// @inheritdoc IParisMarket
    function submitDelta(
        uint256 jobId,
        uint16 expert,
        uint32 baseVersion,
        uint8 lane,
        bytes32 deltaDigest,
        uint32 deltaCodec,
        bytes32 traceRoot,
        uint16 segments
    ) external returns (uint256 deltaId) {
        if (segments == 0) revert InvalidSegments(segments);
        deltaId = _admitDelta(jobId, expert, baseVersion, lane);
        Delta storage d = deltas[deltaId];
        d.segments = segments;
        emit DeltaSubmitted(
            jobId, deltaId, msg.sender, expert, baseVersion, lane, deltaDigest, deltaCodec, traceRoot, segments
        );
    }

    /// @dev Check that the caller may submit this delta, and record it (all but its segments).
    function _admitDelta(uint256 jobId, uint16 expert, uint32 baseVersion, uint8 lane)
        private
        returns (uint256 deltaId)
    {
        Job storage job = _openJob(jobId);
        if (block.timestamp > job.deadline) revert DeadlinePassed(jobId, job.deadline);
        Stake storage s = _requireActive(msg.sender, ROLE_MINER);
        if (expert >= job.experts) revert ExpertOutOfRange(jobId, expert, job.experts);
        uint32 current = heads[jobId][expert].version;
        if (baseVersion > current) revert FutureVersion(baseVersion, current);
        if (baseVersion == current) _requireMergeSettled(jobId, expert); // trained on a checkpoint that stays
        if (current - baseVersion > job.stalenessBound) revert TooStale(baseVersion, current, job.stalenessBound);
        if (lane > job.stalenessBound) revert LaneOutOfRange(lane, job.stalenessBound);
        deltaId = deltaIdOf(jobId, expert, baseVersion, lane, msg.sender);
        Delta storage d = deltas[deltaId];
        if (d.state != DeltaState.None) revert DuplicateDelta(jobId, expert, baseVersion, lane, msg.sender);
        uint256 needed = uint256(MIN_STAKE) * (uint256(s.open) + 1);
        if (s.amount < needed) revert StakeTooSmall(s.amount, needed);
        d.miner = msg.sender;
        d.baseVersion = baseVersion;
        d.expert = expert;
        d.state = DeltaState.Submitted;
        d.submittedAt = uint40(block.timestamp);
        d.jobId = uint48(jobId);
        d.submittedBlock = uint40(block.number);
        d.lane = lane;
        s.open += 1;
    }

    /// @inheritdoc IParisMarket
    function deltaIdOf(uint256 jobId, uint16 expert, uint32 baseVersion, uint8 lane, address miner)
        public
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encode(jobId, expert, baseVersion, lane, miner)));
    }

    /// @inheritdoc IParisMarket
    function challengeSeed(uint256 deltaId) public view returns (bytes32 seed) {
        seed = fixedSeeds[deltaId];
        if (seed != bytes32(0)) return seed;
        if (deltas[deltaId].state == DeltaState.None) revert UnknownDelta(deltaId);
        revert ChallengeNotFixed(deltaId);
    }

    /// @inheritdoc IParisMarket
    function fixChallenge(uint256 deltaId, bytes calldata header) external {
        if (fixedSeeds[deltaId] != bytes32(0)) return;
        Delta storage d = deltas[deltaId];
        if (d.state == DeltaState.None) revert UnknownDelta(deltaId);
        uint256 target = uint256(d.submittedBlock) + CHALLENGE_DELAY;
        if (block.number <= target) revert ChallengeNotReady(deltaId, target + 1);
        bytes32 hash = blockhash(target);
        if (hash == bytes32(0)) revert ChallengeExpired(deltaId);
        if (keccak256(header) != hash) revert WrongHeader(deltaId, target);
        bytes32 seed = keccak256(abi.encode(BlockHeader.mixHash(header), deltaId));
        fixedSeeds[deltaId] = seed;
        emit ChallengeFixed(deltaId, seed);
    }

    /// @inheritdoc IParisMarket
    function challengedSegments(uint256 deltaId) external view returns (uint16[] memory picked) {
        bytes32 seed = challengeSeed(deltaId);
        Delta storage d = deltas[deltaId];
        if (d.segments == 0) revert InvalidSegments(0); // a merge dispute: its seed draws a committee only
        uint256 others = d.segments - 1;
        uint256 draws = jobs[d.jobId].challenges < others ? jobs[d.jobId].challenges : others;
        picked = new uint16[](draws + 1);
        picked[0] = uint16(others);
        uint256 found = 1;
        for (uint256 nonce; found <= draws; ++nonce) {
            uint16 candidate = uint16(uint256(keccak256(abi.encode(seed, nonce))) % others);
            bool seen;
            for (uint256 i = 1; i < found; ++i) {
                if (picked[i] == candidate) seen = true;
            }
            if (!seen) picked[found++] = candidate;
        }
    }

    /// @inheritdoc IParisMarket
    function reveal(uint256 deltaId, bytes32 revealDigest, uint32 revealCodec) external {
        Delta storage d = deltas[deltaId];
        if (d.state == DeltaState.None) revert UnknownDelta(deltaId);
        if (msg.sender != d.miner) revert NotMiner(deltaId, msg.sender);
        if (d.revealed) revert AlreadyRevealed(deltaId);
        uint256 closesAt = uint256(d.submittedAt) + jobs[d.jobId].revealWindow;
        if (block.timestamp > closesAt) revert RevealWindowClosed(deltaId, closesAt);
        bytes32 seed = challengeSeed(deltaId);
        d.revealed = true;
        d.revealedAt = uint40(block.timestamp);
        emit Revealed(deltaId, msg.sender, revealDigest, revealCodec, seed);
    }

    // ---------------------------------------------------------------- merges and payouts

    /// @inheritdoc IParisMarket
    function finalize(
        uint256 jobId,
        uint16 expert,
        uint32 newVersion,
        bytes32 checkpointDigest,
        uint32 checkpointCodec,
        uint256[] calldata mergedDeltaIds,
        uint16 unavailable
    ) external {
        Job storage job = _openJob(jobId);
        if (msg.sender != job.aggregator) revert NotAggregator(jobId, msg.sender);
        _requireActive(msg.sender, ROLE_AGGREGATOR);
        if (expert >= job.experts) revert ExpertOutOfRange(jobId, expert, job.experts);
        uint32 current = heads[jobId][expert].version;
        if (current >= job.rounds) revert AllRoundsDone(jobId, expert);
        if (newVersion != current + 1) revert WrongVersion(newVersion, current + 1);
        uint256 count = mergedDeltaIds.length;
        if (count <= unavailable) revert NothingToMerge();
        _requireMergeSettled(jobId, expert);

        uint256[] memory scores = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            Delta storage d = deltas[mergedDeltaIds[i]];
            if (d.state != DeltaState.Passed || d.segments == 0) revert NotMergeable(mergedDeltaIds[i], d.state);
            if (d.jobId != jobId || d.expert != expert) revert DeltaOfOtherExpert(mergedDeltaIds[i], d.jobId, d.expert);
            if (d.baseVersion > current || current - d.baseVersion > job.stalenessBound) {
                revert TooStale(d.baseVersion, current, job.stalenessBound);
            }
            scores[i] = d.scoreSum;
            d.state = DeltaState.Merged; // also rejects the same id twice in one list
        }
        uint256 paid = _price(mergedDeltaIds, scores, job.rewardPerRound / job.experts);
        job.escrow -= uint96(paid); // the escrow reserved every round's reward: no shortfall
        heads[jobId][expert] = Head(newVersion, uint40(block.timestamp), false);
        mergeRecord[jobId][expert][newVersion] =
            keccak256(abi.encode(checkpointDigest, checkpointCodec, keccak256(abi.encode(mergedDeltaIds))));
        emit ExpertFinalized(jobId, expert, newVersion, checkpointDigest, checkpointCodec, mergedDeltaIds, unavailable,
            paid);
    }

    /// @inheritdoc IParisMarket
    function claim(uint256[] calldata deltaIds) external {
        for (uint256 i; i < deltaIds.length; ++i) {
            Delta storage d = deltas[deltaIds[i]];
            if (d.state != DeltaState.Merged) revert NothingToClaim(deltaIds[i], d.state);
            _requireMergeSettled(d.jobId, d.expert); // its merge may still be rolled back
            d.state = DeltaState.Paid;
            uint256 amount = d.payout;
            owed[d.miner] += amount;
            stakes[d.miner].open -= 1;
            emit DeltaPaid(deltaIds[i], d.miner, amount);
        }
    }

    /// @inheritdoc IParisMarket
    function withdraw() external nonReentrant {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    /// @inheritdoc IParisMarket
    function release(uint256 deltaId) external {
        Delta storage d = deltas[deltaId];
        Job storage job = jobs[d.jobId];
        DeltaState state = d.state;
        bool releasable;
        if (d.segments == 0) {
            releasable = false; // a merge dispute: `resolveDispute` settles it
        } else if (state == DeltaState.Passed) {
            uint32 current = heads[d.jobId][d.expert].version;
            // trained on a version since rolled back, never to be merged, or left past the job's end
            releasable = d.baseVersion > current || job.closed || current >= job.rounds
                || current - d.baseVersion > job.stalenessBound
                || block.timestamp > uint256(job.deadline) + 2 * uint256(job.revealWindow);
        } else if ((state == DeltaState.Submitted && d.revealed) || state == DeltaState.Failed) {
            releasable = block.timestamp > uint256(d.submittedAt) + 4 * uint256(job.revealWindow);
        }
        if (!releasable) revert NotReleasable(deltaId, state);
        d.state = DeltaState.Released;
        stakes[d.miner].open -= 1;
        emit Released(deltaId, d.miner, state);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IParisMarket
    function getJob(uint256 jobId) external view returns (Job memory) {
        return jobs[jobId];
    }

    /// @inheritdoc IParisMarket
    function getDelta(uint256 deltaId) external view returns (Delta memory) {
        return deltas[deltaId];
    }

    /// @inheritdoc IParisMarket
    function getStake(address account) external view returns (Stake memory) {
        return stakes[account];
    }

    // ---------------------------------------------------------------- internal

    /// @dev Parks each merged delta's share of `reward` on it, in proportion to its capped score (equal shares
    ///      when every score is zero); returns what was priced in all.
    function _price(uint256[] calldata ids, uint256[] memory scores, uint256 reward) internal returns (uint256 paid) {
        uint256 totalScore = _capScores(scores);
        for (uint256 i; i < ids.length; ++i) {
            uint256 share = totalScore == 0 ? reward / ids.length : reward * scores[i] / totalScore;
            deltas[ids[i]].payout = uint96(share);
            paid += share;
        }
    }

    /// @dev Caps each score at SCORE_CAP_X_MEDIAN times the lower median of the merge's scores (in place), so
    ///      that no delta's share, however its score was reached, outweighs the round's typical one by more;
    ///      returns the capped total. The aggregator's merge weights apply the same cap (`merge.capped_scores`).
    function _capScores(uint256[] memory scores) internal pure returns (uint256 total) {
        uint256 count = scores.length;
        uint256[] memory sorted = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            uint256 value = scores[i];
            uint256 j = i;
            for (; j > 0 && sorted[j - 1] > value; --j) {
                sorted[j] = sorted[j - 1];
            }
            sorted[j] = value;
        }
        uint256 cap = SCORE_CAP_X_MEDIAN * sorted[(count - 1) / 2];
        for (uint256 i; i < count; ++i) {
            if (scores[i] > cap) scores[i] = cap;
            total += scores[i];
        }
    }
}
