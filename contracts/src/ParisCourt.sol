// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IParisCourt} from "./IParisCourt.sol";
import {MarketState} from "./MarketState.sol";

/// @title ParisCourt
/// @notice The market's judging half: sealed votes opened later and decided by stake, fees for votes that match
///         the verdict, traps that catch validators passing deltas unchecked, and the slashing of cheating miners
///         and wrong voters. `ParisMarket` deploys it and runs its code on the market's own storage (delegatecall);
///         called directly, it has no jobs and no money.
contract ParisCourt is MarketState, IParisCourt {
    constructor(uint96 minStake, uint40 unbondingDelay, uint8 challengeDelay, uint40 voteWindow)
        MarketState(minStake, unbondingDelay, challengeDelay, voteWindow)
    {}

    // ---------------------------------------------------------------- scores

    /// @inheritdoc IParisCourt
    function commitVote(uint256 deltaId, bytes32 commitment) external {
        Delta storage d = deltas[deltaId];
        if (d.state == DeltaState.None) revert UnknownDelta(deltaId);
        if (d.state != DeltaState.Submitted) revert AlreadyDecided(deltaId, d.state);
        _requireActive(msg.sender, ROLE_VALIDATOR);
        if (msg.sender == d.miner || (d.segments == 0 && msg.sender == jobs[d.jobId].aggregator)) {
            revert OwnDelta(deltaId, msg.sender); // a miner's own delta, an aggregator's own merge
        }
        if (votes[deltaId][msg.sender] != Vote.None) revert AlreadyVoted(deltaId, msg.sender);
        if (!d.revealed) revert VoteBeforeReveal(deltaId);
        if (!onCommittee(deltaId, msg.sender)) revert NotOnCommittee(deltaId, msg.sender);
        uint256 closesAt = uint256(d.revealedAt) + VOTE_WINDOW;
        if (block.timestamp > closesAt) revert VotingClosed(deltaId, closesAt);
        votes[deltaId][msg.sender] = Vote.Committed;
        voteCommitments[deltaId][msg.sender] = commitment;
        emit VoteCommitted(deltaId, msg.sender);
    }

    /// @inheritdoc IParisCourt
    function onCommittee(uint256 deltaId, address validator) public view returns (bool) {
        bytes32 seed = fixedSeeds[deltaId];
        Stake storage s = stakes[validator];
        if (seed == bytes32(0) || s.slashed || s.unbondAt != 0 || s.roles & ROLE_VALIDATOR == 0) return false;
        return uint256(keccak256(abi.encode(seed, validator))) % validatorStake < COMMITTEE_SIZE * uint256(s.amount);
    }

    /// @inheritdoc IParisCourt
    function revealVote(uint256 deltaId, bool pass, uint32 score, bytes32 salt) external {
        Delta storage d = deltas[deltaId];
        if (votes[deltaId][msg.sender] != Vote.Committed
            || voteCommitments[deltaId][msg.sender] != voteCommitment(deltaId, msg.sender, pass, score, salt)) {
            revert VoteMismatch(deltaId, msg.sender);
        }
        uint256 opensAt = uint256(d.revealedAt) + VOTE_WINDOW;
        if (block.timestamp <= opensAt || block.timestamp > opensAt + VOTE_WINDOW) {
            revert NotRevealPhase(deltaId, opensAt + 1, opensAt + VOTE_WINDOW);
        }
        if (score > MAX_SCORE) revert ScoreOutOfRange(score);
        Stake storage s = stakes[msg.sender];
        if (s.slashed) revert IsSlashed(msg.sender);
        uint96 weight = s.amount;
        delete voteCommitments[deltaId][msg.sender];
        if (pass) {
            votes[deltaId][msg.sender] = Vote.Pass;
            d.passVotes += 1;
            d.passWeight += weight;
            d.scoreSum += score;
        } else {
            votes[deltaId][msg.sender] = Vote.Fail;
            d.failVotes += 1;
            d.failWeight += weight;
        }
        emit VoteRevealed(deltaId, msg.sender, pass, score, weight);
    }

    /// @inheritdoc IParisCourt
    function voteCommitment(uint256 deltaId, address validator, bool pass, uint32 score, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(deltaId, validator, pass, score, salt));
    }

    /// @inheritdoc IParisCourt
    function decide(uint256 deltaId) external {
        Delta storage d = deltas[deltaId];
        if (d.state != DeltaState.Submitted || !d.revealed) revert AlreadyDecided(deltaId, d.state);
        uint256 endsAt = uint256(d.revealedAt) + 2 * uint256(VOTE_WINDOW);
        if (block.timestamp <= endsAt) revert VotingNotOver(deltaId, endsAt);
        uint256 votesRevealed = uint256(d.passVotes) + d.failVotes;
        if (votesRevealed < jobs[d.jobId].quorum || d.passWeight == d.failWeight) revert NoVerdict(deltaId);
        bool passed = d.passWeight > d.failWeight;
        if (passed) {
            d.scoreSum /= d.passVotes;
            d.state = DeltaState.Passed;
            d.verdict = Verdict.Pass;
        } else {
            d.state = DeltaState.Failed;
            d.verdict = Verdict.Fail;
        }
        emit DeltaDecided(deltaId, passed, passed ? d.scoreSum : 0);
    }

    /// @inheritdoc IParisCourt
    function collect(uint256[] calldata deltaIds) external {
        uint256 total;
        for (uint256 i; i < deltaIds.length; ++i) {
            uint256 deltaId = deltaIds[i];
            Delta storage d = deltas[deltaId];
            Job storage job = jobs[d.jobId];
            _requireSettled(deltaId, d);
            Vote vote = votes[deltaId][msg.sender];
            bool won = (vote == Vote.Pass && d.verdict == Verdict.Pass)
                || (vote == Vote.Fail && d.verdict == Verdict.Fail && (d.state == DeltaState.Slashed || d.trapped));
            if (!won) revert NothingToCollect(deltaId, msg.sender);
            votes[deltaId][msg.sender] = Vote.Collected;
            uint256 fee = job.validatorFee < job.feePool ? job.validatorFee : job.feePool;
            job.feePool -= uint96(fee);
            uint256 share = vote == Vote.Fail && d.state == DeltaState.Slashed ? d.payout / d.failVotes : 0;
            total += fee + share;
            emit Collected(deltaId, msg.sender, fee, share);
        }
        owed[msg.sender] += total;
    }

    // ---------------------------------------------------------------- traps and wrong votes

    /// @inheritdoc IParisCourt
    function commitTraps(uint256 jobId, bytes32 digest) external {
        Job storage job = _openJob(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (trapsOf[jobId].digest != bytes32(0)) revert TrapsAlreadyCommitted(jobId);
        if (digest == bytes32(0)) revert ZeroKey();
        trapsOf[jobId] = TrapCommitment(digest, uint64(block.number));
        emit TrapsCommitted(jobId, digest);
    }

    /// @inheritdoc IParisCourt
    function exposeTrap(uint256 deltaId, uint256[] calldata trapDeltaIds, bytes32 salt) external {
        Delta storage d = deltas[deltaId];
        uint256 jobId = d.jobId;
        if (msg.sender != d.miner) revert NotTrapMiner(deltaId, msg.sender);
        TrapCommitment storage traps = trapsOf[jobId];
        bool listed;
        for (uint256 i; i < trapDeltaIds.length; ++i) {
            if (trapDeltaIds[i] == deltaId) listed = true;
        }
        uint256 votingEnds = uint256(d.revealedAt) + 2 * uint256(VOTE_WINDOW);
        DeltaState state = d.state;
        if (!listed || keccak256(abi.encode(jobId, trapDeltaIds, salt)) != traps.digest
            || d.submittedBlock <= traps.block || d.segments == 0 || !d.revealed || d.trapped || state == DeltaState.Failed
            || state == DeltaState.Slashed || block.timestamp <= votingEnds
            || block.timestamp > votingEnds + VOTE_WINDOW) revert NotExposable(deltaId);
        d.trapped = true;
        d.verdict = Verdict.Fail;
        if (state == DeltaState.Submitted || state == DeltaState.Passed) {
            d.state = DeltaState.Released;
            stakes[d.miner].open -= 1;
        }
        emit TrapExposed(deltaId, state);
    }

    /// @inheritdoc IParisCourt
    function slashVoter(uint256 deltaId, address validator) external {
        Delta storage d = deltas[deltaId];
        _requireSettled(deltaId, d);
        if (msg.sender == validator) revert OwnDelta(deltaId, validator);
        Vote vote = votes[deltaId][validator];
        bool wrong = vote == Vote.Committed || (vote == Vote.Pass && d.verdict == Verdict.Fail)
            || (vote == Vote.Fail && d.verdict == Verdict.Pass);
        if (!wrong) revert RightVote(deltaId, validator);
        Stake storage s = stakes[validator];
        if (s.slashed) revert IsSlashed(validator);
        _uncount(s);
        uint256 amount = s.amount;
        s.amount = 0;
        s.slashed = true;
        votes[deltaId][validator] = Vote.Collected;
        uint256 toReporter = d.trapped ? 0 : amount / 2;
        owed[msg.sender] += toReporter;
        owed[address(0)] += amount - toReporter; // burned: nobody can withdraw for the zero address
        emit VoterSlashed(deltaId, validator, msg.sender, amount, toReporter);
    }

    // ---------------------------------------------------------------- merges answered for

    /// @inheritdoc IParisCourt
    function disputeIdOf(uint256 jobId, uint16 expert, uint32 version, uint40 finalizedAt)
        external
        pure
        returns (uint256)
    {
        return _disputeIdOf(jobId, expert, version, finalizedAt);
    }

    /// @inheritdoc IParisCourt
    function disputeMerge(uint256 jobId, uint16 expert) external payable returns (uint256 disputeId) {
        Job storage job = _openJob(jobId);
        Head storage head = heads[jobId][expert];
        (uint32 version, uint40 at) = (head.version, head.mergedAt);
        if (at == 0) revert NothingToDispute(jobId, expert);
        if (block.timestamp > uint256(at) + VOTE_WINDOW) revert DisputeWindowClosed(jobId, expert, at + VOTE_WINDOW);
        if (msg.value < MIN_STAKE) revert StakeTooSmall(msg.value, MIN_STAKE);
        if (msg.value > type(uint96).max) _refuse("dispute bond above 2^96 wei");
        disputeId = _disputeIdOf(jobId, expert, version, at);
        Delta storage d = deltas[disputeId];
        if (d.state != DeltaState.None) revert AlreadyDisputed(disputeId);
        // A dispute is voted on like a delta (pass: the merge stands), with no segments and the disputer as miner.
        d.miner = msg.sender;
        d.baseVersion = version;
        d.expert = expert;
        d.state = DeltaState.Submitted;
        d.submittedAt = at;
        d.jobId = uint48(jobId);
        d.submittedBlock = uint40(block.number);
        d.revealed = true;
        d.revealedAt = uint40(block.timestamp);
        d.payout = uint96(msg.value);
        disputedAggregator[disputeId] = job.aggregator;
        head.disputed = true; // the next merge, claims and deltas trained on it wait for `resolveDispute`
        stakes[job.aggregator].open += 1; // its stake stays until the dispute is resolved
        emit MergeDisputed(jobId, expert, version, disputeId, msg.sender, msg.value);
    }

    /// @inheritdoc IParisCourt
    function resolveDispute(uint256 disputeId, bytes32 checkpointDigest, uint32 checkpointCodec,
        uint256[] calldata mergedDeltaIds) external
    {
        Delta storage d = deltas[disputeId];
        if (d.segments != 0 || d.state == DeltaState.None) revert NotADispute(disputeId);
        DeltaState state = d.state;
        Job storage job = jobs[d.jobId];
        address aggregator = disputedAggregator[disputeId];
        uint256 bond = d.payout;
        address winner = d.miner; // the disputer, unless the merge stands
        Head storage head = heads[d.jobId][d.expert];
        bool latest = head.mergedAt == d.submittedAt && head.version == d.baseVersion; // not since rolled back
        if (state == DeltaState.Submitted) {
            uint256 endsAt = uint256(d.revealedAt) + 2 * uint256(VOTE_WINDOW);
            if (block.timestamp <= endsAt) revert VotingNotOver(disputeId, endsAt);
            if (uint256(d.passVotes) + d.failVotes >= job.quorum && d.passWeight != d.failWeight) {
                revert UndecidedDispute(disputeId);
            }
            d.state = DeltaState.Released; // no verdict: the merge stands, the bond goes back
        } else if (state == DeltaState.Passed) {
            winner = aggregator; // the merge stands: the bond pays for the delay
            d.state = DeltaState.Released;
        } else if (state == DeltaState.Failed) {
            d.state = DeltaState.Slashed;
            d.payout = 0;
            if (latest) {
                _rollBack(d.jobId, d.expert, d.baseVersion, checkpointDigest, checkpointCodec, mergedDeltaIds);
                uint256 amount = _slashAggregator(d.jobId, aggregator, winner);
                uint256 toVoters = amount / 2 - (amount / 2) % d.failVotes; // the fail voters' `collect`
                d.payout = uint96(toVoters);
                bond += amount - toVoters;
            } // else an omission report rolled it back and slashed the aggregator first
        } else {
            revert AlreadyResolved(disputeId);
        }
        if (latest) head.disputed = false; // a rollback above reset the head already
        stakes[aggregator].open -= 1;
        owed[winner] += bond;
        emit DisputeResolved(disputeId, state, winner, bond);
    }

    /// @inheritdoc IParisCourt
    function reportOmission(uint256 deltaId, bytes32 checkpointDigest, uint32 checkpointCodec,
        uint256[] calldata mergedDeltaIds) external
    {
        Delta storage d = deltas[deltaId];
        uint256 jobId = d.jobId;
        uint16 expert = d.expert;
        Head storage head = heads[jobId][expert];
        (uint32 version, uint256 at) = (head.version, head.mergedAt);
        // Passed (so in no merge), decidable a whole window before the latest merge, and mergeable into it.
        if (d.segments == 0 || d.state != DeltaState.Passed || at == 0 || block.timestamp > at + VOTE_WINDOW
            || uint256(d.revealedAt) + 3 * uint256(VOTE_WINDOW) >= at || d.baseVersion >= version
            || version - 1 - d.baseVersion > jobs[jobId].stalenessBound) revert NotOmitted(deltaId);
        _rollBack(jobId, expert, version, checkpointDigest, checkpointCodec, mergedDeltaIds);
        uint256 amount = _slashAggregator(jobId, jobs[jobId].aggregator, msg.sender);
        uint256 toReporter = amount / 2;
        owed[msg.sender] += toReporter;
        owed[address(0)] += amount - toReporter; // burned
        emit OmissionReported(deltaId, msg.sender, toReporter);
    }

    /// @dev Undo the expert's latest merge, given what it recorded: its deltas are passed (and unpriced) again and
    ///      the version is open for a new merge.
    function _rollBack(uint256 jobId, uint16 expert, uint32 version, bytes32 checkpointDigest,
        uint32 checkpointCodec, uint256[] calldata mergedDeltaIds) internal
    {
        bytes32 record = keccak256(abi.encode(checkpointDigest, checkpointCodec, keccak256(abi.encode(mergedDeltaIds))));
        if (mergeRecord[jobId][expert][version] != record) revert WrongMergeRecord(jobId, expert, version);
        uint256 refund;
        for (uint256 i; i < mergedDeltaIds.length; ++i) {
            Delta storage merged = deltas[mergedDeltaIds[i]];
            refund += merged.payout;
            merged.payout = 0;
            merged.state = DeltaState.Passed;
        }
        jobs[jobId].escrow += uint96(refund); // what the merge priced, from this escrow
        heads[jobId][expert] = Head(version - 1, 0, false);
        delete mergeRecord[jobId][expert][version];
        emit MergeRolledBack(jobId, expert, version);
    }

    /// @dev Take the whole stake of the job's aggregator; returns it, for the caller to share out.
    function _slashAggregator(uint256 jobId, address aggregator, address reporter) internal returns (uint256 amount) {
        Stake storage s = stakes[aggregator];
        _uncount(s);
        amount = s.amount;
        s.amount = 0;
        s.slashed = true;
        emit AggregatorSlashed(jobId, aggregator, reporter, amount);
    }

    // ---------------------------------------------------------------- slashing

    /// @inheritdoc IParisCourt
    function slash(uint256 deltaId, SlashReason reason, bytes32 evidenceDigest, uint32 evidenceCodec) external {
        Delta storage d = deltas[deltaId];
        if (d.state == DeltaState.None) revert UnknownDelta(deltaId);
        _requireActive(msg.sender, ROLE_VALIDATOR);
        if (msg.sender == d.miner) revert OwnDelta(deltaId, msg.sender);
        if (d.segments == 0) revert NotSlashable(deltaId, reason); // a merge dispute: `resolveDispute` settles it
        Job storage job = jobs[d.jobId];
        bool failed = reason == SlashReason.FailedSpotCheck;
        if (failed) {
            if (d.state != DeltaState.Failed || votes[deltaId][msg.sender] != Vote.Fail) {
                revert NotSlashable(deltaId, reason);
            }
        } else {
            uint256 closesAt = uint256(d.submittedAt) + job.revealWindow;
            if (d.revealed || d.state != DeltaState.Submitted) revert NotSlashable(deltaId, reason);
            if (block.timestamp <= closesAt) revert RevealWindowOpen(deltaId, closesAt);
        }
        d.state = DeltaState.Slashed;
        Stake storage s = stakes[d.miner];
        _uncount(s);
        uint256 amount = s.amount;
        s.amount = 0;
        s.slashed = true;
        uint256 toVoters = amount / 2;
        if (failed) {
            toVoters -= toVoters % d.failVotes; // what the fail voters collect, in equal shares
            d.payout = uint96(toVoters);
        } else {
            owed[msg.sender] += toVoters;
        }
        uint256 toEscrow = amount - toVoters;
        if (job.closed || uint256(job.escrow) + toEscrow > type(uint96).max) {
            owed[job.requester] += toEscrow; // a closed job's share goes straight back to its requester
        } else {
            job.escrow += uint96(toEscrow);
        }
        emit Slashed(deltaId, d.miner, msg.sender, reason, amount, evidenceDigest, evidenceCodec);
    }
}
