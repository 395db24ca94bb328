// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {JobFixture, MarketFixture} from "./MarketFixture.sol";
import {ParisMarket} from "../src/ParisMarket.sol";
import {IParisMarketTypes} from "../src/IParisMarket.sol";

contract JobsTest is MarketFixture {
    function test_market_refusesChainsWithoutRandaoAndAChallengeTheNextBlockFixes() public {
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.InvalidTerms.selector, "challenge delay below 2 blocks"));
        new ParisMarket(MIN_STAKE, UNBONDING, 1, VOTE_WINDOW);
        vm.prevrandao(bytes32(uint256(1))); // what a chain without a RANDAO beacon reports
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.InvalidTerms.selector,
            "chain has no RANDAO (prevrandao at most 2^64)"));
        new ParisMarket(MIN_STAKE, UNBONDING, DELAY, VOTE_WINDOW);
    }

    function test_createJob_storesTermsAndEscrow() public {
        vm.expectEmit(true, true, true, false);
        emit IParisMarketTypes.JobCreated(1, REQUESTER, AGGREGATOR, 10 ether, SPEC, RAW, _terms());
        uint256 id = _job();
        vm.assertEq(id, 1);
        IParisMarketTypes.Job memory job = market.getJob(id);
        vm.assertEq(job.requester, REQUESTER);
        vm.assertEq(uint256(job.experts), 2);
        vm.assertEq(uint256(job.rounds), 3);
        vm.assertEq(uint256(job.quorum), 2);
        vm.assertFalse(job.closed);
        vm.assertEq(job.aggregator, AGGREGATOR);
        vm.assertEq(uint256(job.escrow), 6 ether); // 3 rounds x 2 ether reserved for rewards
        vm.assertEq(uint256(job.feePool), 4 ether); // the rest pays validator fees
        vm.assertEq(uint256(job.rewardPerRound), 2 ether);
        vm.assertEq(job.specDigest, SPEC);
        vm.assertEq(address(market).balance, 10 ether + 12 ether); // escrow + six 2-ether stakes
    }

    function test_createJob_revertsWithoutEscrow() public {
        IParisMarketTypes.JobTerms memory terms = _terms();
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ZeroEscrow.selector));
        market.createJob(terms);
    }

    function test_createJob_revertsOnBadTerms() public {
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.experts = 0;
        _expectRefused(terms, 10 ether, "experts and rounds must be positive");
        terms = _terms();
        terms.quorum = 0;
        _expectRefused(terms, 10 ether, "quorum must be 1..MAX_QUORUM");
        terms.quorum = market.MAX_QUORUM() + 1;
        _expectRefused(terms, 10 ether, "quorum must be 1..MAX_QUORUM");
        terms = _terms();
        terms.challenges = 0;
        _expectRefused(terms, 10 ether, "challenges must be 1..MAX_CHALLENGES");
        terms.challenges = market.MAX_CHALLENGES() + 1;
        _expectRefused(terms, 10 ether, "challenges must be 1..MAX_CHALLENGES");
        terms = _terms();
        terms.revealWindow = uint24(market.MIN_REVEAL_WINDOW() - 1);
        _expectRefused(terms, 10 ether, "reveal window below MIN_REVEAL_WINDOW");
        terms = _terms();
        terms.aggregator = address(0);
        _expectRefused(terms, 10 ether, "aggregator is the zero address");
        terms = _terms();
        terms.deadline = uint40(block.timestamp);
        _expectRefused(terms, 10 ether, "deadline is not in the future");
        _expectRefused(_terms(), 5 ether, "escrow below rounds x reward");
    }

    function _expectRefused(IParisMarketTypes.JobTerms memory terms, uint256 value, string memory why) internal {
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.InvalidTerms.selector, why));
        market.createJob{value: value}(terms);
    }

    function test_topUp_addsToTheFeePool() public {
        uint256 id = _job();
        vm.prank(MINER1);
        market.topUp{value: 1 ether}(id);
        vm.assertEq(uint256(market.getJob(id).feePool), 5 ether);
        vm.assertEq(_escrow(id), 6 ether);
    }

    function test_topUp_revertsOnUnknownJobAndZero() public {
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.UnknownJob.selector, 9));
        market.topUp{value: 1}(9);
        uint256 id = _job();
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ZeroEscrow.selector));
        market.topUp(id);
    }

    function test_reclaim_afterDeadlineCreditsRequesterAndCloses() public {
        uint256 id = _job();
        vm.warp(block.timestamp + 31 days);
        vm.prank(REQUESTER);
        market.reclaim(id);
        vm.assertEq(market.owed(REQUESTER), 10 ether);
        vm.assertEq(_escrow(id), 0);
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.JobClosed.selector, id));
        market.reclaim(id);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.JobClosed.selector, id));
        market.topUp{value: 1}(id);
    }

    function test_reclaim_revertsBeforeDeadlineOrForOthers() public {
        uint256 id = _job();
        uint40 deadline = market.getJob(id).deadline;
        uint256 reclaimableAt = uint256(deadline) + 2 hours; // the finalize grace: two reveal windows
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.DeadlineNotReached.selector, id, reclaimableAt));
        market.reclaim(id);
        vm.warp(reclaimableAt);
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.DeadlineNotReached.selector, id, reclaimableAt));
        market.reclaim(id);
        vm.warp(uint256(deadline) + 1);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotRequester.selector, id, MINER1));
        market.reclaim(id);
    }
}

contract PrivateJobsTest is MarketFixture {
    bytes32 internal constant NODE_KEY = keccak256("x25519 public key");
    bytes32 internal constant KEYRING = keccak256("keyring v2");

    function test_registerKey_anyAccountPublishesAndReplacesItsKey() public {
        vm.expectEmit(true, false, false, true);
        emit IParisMarketTypes.KeyRegistered(AGGREGATOR, NODE_KEY);
        vm.prank(AGGREGATOR); // not staked: aggregators and requesters register keys too
        market.registerKey(NODE_KEY);
        vm.assertEq(market.x25519KeyOf(AGGREGATOR), NODE_KEY);
        vm.prank(AGGREGATOR);
        market.registerKey(KEYRING);
        vm.assertEq(market.x25519KeyOf(AGGREGATOR), KEYRING);
        vm.assertEq(market.x25519KeyOf(MINER1), bytes32(0));
    }

    function test_registerKey_revertsOnZeroKey() public {
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ZeroKey.selector));
        market.registerKey(bytes32(0));
    }

    function test_setKeyring_requesterPointsOpenJobAtNewKeyring() public {
        uint256 id = _job();
        vm.expectEmit(true, false, false, true);
        emit IParisMarketTypes.KeyringSet(id, KEYRING, RAW);
        vm.prank(REQUESTER);
        market.setKeyring(id, KEYRING, RAW);
        (bytes32 digest, uint32 codec) = market.keyringOf(id);
        vm.assertEq(digest, KEYRING);
        vm.assertEq(uint256(codec), RAW);
    }

    function test_setKeyring_revertsForOthersUnknownOrClosedJobs() public {
        uint256 id = _job();
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotRequester.selector, id, MINER1));
        market.setKeyring(id, KEYRING, RAW);
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.UnknownJob.selector, 99));
        market.setKeyring(99, KEYRING, RAW);
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ZeroKey.selector));
        market.setKeyring(id, bytes32(0), RAW);
        vm.warp(block.timestamp + 31 days);
        vm.prank(REQUESTER);
        market.reclaim(id);
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.JobClosed.selector, id));
        market.setKeyring(id, KEYRING, RAW);
    }
}

contract StakesTest is MarketFixture {
    function test_stake_accumulatesRoles() public {
        uint8 role = market.ROLE_VALIDATOR();
        vm.prank(MINER1);
        market.stake{value: 1 ether}(role);
        IParisMarketTypes.Stake memory s = market.getStake(MINER1);
        vm.assertEq(uint256(s.amount), 3 ether);
        vm.assertEq(uint256(s.roles), 3);
        vm.assertEq(uint256(s.unbondAt), 0);
    }

    function test_stake_revertsWhenTooSmallOrRolesInvalid() public {
        address fresh = address(0xF00);
        vm.deal(fresh, 10 ether);
        vm.prank(fresh);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.StakeTooSmall.selector, 0.5 ether, MIN_STAKE));
        market.stake{value: 0.5 ether}(1);
        vm.prank(fresh);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.StakeTooSmall.selector, 0, MIN_STAKE));
        market.stake(1);
        vm.prank(fresh);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.InvalidRoles.selector, 8));
        market.stake{value: 1 ether}(8);
    }

    function test_unbondThenWithdrawStake() public {
        vm.prank(MINER1);
        market.requestUnbond();
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.UnbondingNotOver.selector, MINER1, block.timestamp + UNBONDING));
        market.withdrawStake();
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.Unbonding.selector, MINER1));
        market.stake{value: 1 ether}(1);
        vm.warp(block.timestamp + UNBONDING);
        uint256 before = MINER1.balance;
        vm.prank(MINER1);
        market.withdrawStake();
        vm.prank(MINER1);
        market.withdraw();
        vm.assertEq(MINER1.balance - before, 2 ether);
        (uint256 amount,) = _stakeOf(MINER1);
        vm.assertEq(amount, 0);
    }

    function test_withdrawStake_revertsWithoutUnbonding() public {
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotUnbonding.selector, MINER1));
        market.withdrawStake();
        vm.prank(address(0xF00));
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotStaked.selector, address(0xF00), 0));
        market.requestUnbond();
    }

    function test_unbondingMinerCannotSubmit() public {
        uint256 id = _job();
        vm.prank(MINER1);
        market.requestUnbond();
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.Unbonding.selector, MINER1));
        market.submitDelta(id, 0, 0, 0, bytes32(0), RAW, bytes32(0), 8);
    }
}

contract DeltasTest is JobFixture {
    function test_submitDelta_storesAndEmits() public {
        uint256 expected = market.deltaIdOf(jobId, 1, 0, 0, MINER1);
        vm.expectEmit(true, true, true, true);
        emit IParisMarketTypes.DeltaSubmitted(jobId, expected, MINER1, 1, 0, 0, keccak256("d"), RAW, keccak256("t"), 8);
        vm.prank(MINER1);
        uint256 id = market.submitDelta(jobId, 1, 0, 0, keccak256("d"), RAW, keccak256("t"), 8);
        vm.assertEq(id, expected);
        IParisMarketTypes.Delta memory d = market.getDelta(id);
        vm.assertEq(d.miner, MINER1);
        vm.assertEq(uint256(d.baseVersion), 0);
        vm.assertEq(uint256(d.expert), 1);
        vm.assertTrue(d.state == IParisMarketTypes.DeltaState.Submitted);
        vm.assertEq(uint256(d.jobId), jobId);
        vm.assertEq(uint256(d.submittedBlock), block.number);
        vm.assertEq(uint256(d.segments), 8);
        vm.assertEq(uint256(d.lane), 0);
    }

    function test_submitDelta_secondLaneOnTheSameVersion_isItsOwnDelta() public {
        uint256 first = _submit(MINER1, jobId, 0, 0);
        vm.prank(MINER1);
        uint256 second = market.submitDelta(jobId, 0, 0, 1, keccak256("d2"), RAW, keccak256("t2"), 8);
        vm.assertEq(second, market.deltaIdOf(jobId, 0, 0, 1, MINER1));
        vm.assertTrue(second != first);
        vm.assertEq(uint256(market.getDelta(second).lane), 1);
        vm.assertEq(uint256(market.getStake(MINER1).open), 2); // each lane is backed by its own MIN_STAKE
    }

    function test_submitDelta_reverts() public {
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.UnknownJob.selector, 77));
        market.submitDelta(77, 0, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotStaked.selector, VALIDATOR1, 1));
        market.submitDelta(jobId, 0, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ExpertOutOfRange.selector, jobId, 2, 2));
        market.submitDelta(jobId, 2, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.FutureVersion.selector, 1, 0));
        market.submitDelta(jobId, 0, 1, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.InvalidSegments.selector, 0));
        market.submitDelta(jobId, 0, 0, 0, bytes32(0), RAW, bytes32(0), 0);
        _submit(MINER1, jobId, 0, 0);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.DuplicateDelta.selector, jobId, 0, 0, 0, MINER1));
        market.submitDelta(jobId, 0, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.LaneOutOfRange.selector, 2, 1));
        market.submitDelta(jobId, 0, 0, 2, bytes32(0), RAW, bytes32(0), 8);
        vm.warp(block.timestamp + 31 days);
        uint40 deadline = market.getJob(jobId).deadline;
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.DeadlinePassed.selector, jobId, deadline));
        market.submitDelta(jobId, 0, 0, 0, bytes32(0), RAW, bytes32(0), 8);
    }

    function test_submitDelta_revertsWhenTooStale() public {
        for (uint32 v = 1; v <= 2; ++v) {
            uint256 id = _passed(MINER1, jobId, 0, v - 1, 100);
            vm.prank(AGGREGATOR);
            market.finalize(jobId, 0, v, keccak256("ckpt"), RAW, _ids(id), 0);
            _settleMerges();
        }
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.TooStale.selector, 0, 2, 1));
        market.submitDelta(jobId, 0, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        _submit(MINER2, jobId, 0, 1); // one version behind is within the bound
    }

    function test_challenge_isTheRandaoOfALaterBlock_provenByItsHeader() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        uint256 target = block.number + DELAY;
        bytes memory header = _header(target, _mixOf(target));
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ChallengeNotReady.selector, id, target + 1));
        market.fixChallenge(id, header);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ChallengeNotFixed.selector, id));
        market.challengeSeed(id);
        vm.roll(target + 1);
        header = _provenHeader(target, _mixOf(target));
        // A header of another block, or one whose RANDAO value was changed, is not the challenge block's.
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.WrongHeader.selector, id, target));
        market.fixChallenge(id, _header(target, keccak256("ground")));
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.WrongHeader.selector, id, target));
        market.fixChallenge(id, _header(target - 1, _mixOf(target)));
        vm.expectEmit(true, false, false, true);
        emit IParisMarketTypes.ChallengeFixed(id, keccak256(abi.encode(_mixOf(target), id)));
        vm.prank(VALIDATOR1); // anyone may fix it
        market.fixChallenge(id, header);
        vm.assertEq(market.challengeSeed(id), keccak256(abi.encode(_mixOf(target), id)));
        uint16[] memory picked = market.challengedSegments(id);
        vm.assertEq(picked.length, 3); // the last segment, then two random others
        vm.assertEq(uint256(picked[0]), 7);
        vm.assertTrue(picked[1] != picked[2]);
        vm.assertTrue(picked[1] < 7 && picked[2] < 7);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.UnknownDelta.selector, 5));
        market.challengeSeed(5);
    }

    function test_challenge_ignoresWhatABlockProducerGrinds() public {
        // Reordering transactions changes a block's hash, not its RANDAO value: two such blocks give one seed.
        uint256 id = _submit(MINER1, jobId, 0, 0);
        uint256 target = block.number + DELAY;
        bytes memory ordered = _header(target, _mixOf(target));
        vm.roll(target + 1);
        uint256 snapshot = vm.snapshotState();
        vm.setBlockhash(target, keccak256(ordered));
        market.fixChallenge(id, ordered);
        bytes32 seed = market.challengeSeed(id);
        vm.revertToState(snapshot);
        bytes memory reordered = bytes.concat(ordered); // the same block with its transactions root changed
        bytes32 otherRoot = keccak256("reordered transactions");
        for (uint256 i; i < 32; ++i) {
            reordered[3 + 33 * 3 + 21 + 1 + i] = otherRoot[i];
        }
        vm.assertTrue(keccak256(reordered) != keccak256(ordered));
        vm.setBlockhash(target, keccak256(reordered));
        market.fixChallenge(id, reordered);
        vm.assertEq(market.challengeSeed(id), seed);
    }

    function test_fixChallenge_keepsTheSeedRevealableAfter256Blocks() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.roll(block.number + DELAY + 100);
        _fix(id);
        bytes32 seed = market.challengeSeed(id);
        vm.roll(block.number + 300); // the block hash is gone; the recorded seed is not
        market.fixChallenge(id, ""); // a second call changes nothing
        vm.assertEq(market.challengeSeed(id), seed);
        vm.prank(MINER1);
        market.reveal(id, keccak256("states"), RAW);
        vm.assertTrue(market.getDelta(id).revealed);

        uint256 late = _submit(MINER2, jobId, 0, 0);
        uint256 target = block.number + DELAY;
        bytes memory header = _header(target, _mixOf(target));
        vm.roll(target + 300);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ChallengeExpired.selector, late));
        market.fixChallenge(late, header);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ChallengeNotFixed.selector, late));
        market.reveal(late, keccak256("states"), RAW);
    }

    function test_reveal_storesAndRejectsOthersAndLateness() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ChallengeNotFixed.selector, id));
        market.reveal(id, bytes32(0), RAW);
        vm.roll(block.number + DELAY + 1);
        _fix(id);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotMiner.selector, id, MINER2));
        market.reveal(id, bytes32(0), RAW);
        vm.prank(MINER1);
        market.reveal(id, keccak256("r"), RAW);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.AlreadyRevealed.selector, id));
        market.reveal(id, keccak256("r"), RAW);

        uint256 late = _submit(MINER2, jobId, 0, 0);
        uint256 closes = block.timestamp + 1 hours;
        vm.warp(closes + 1);
        vm.roll(block.number + DELAY + 1);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.RevealWindowClosed.selector, late, closes));
        market.reveal(late, keccak256("r"), RAW);
    }

    function test_votes_sealedOpenedAndDecidedByStakeThenMatchingVotesCollectFees() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _commit(VALIDATOR1, id, true, 300);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.AlreadyVoted.selector, id, VALIDATOR1));
        court.commitVote(id, bytes32(0));
        _commit(VALIDATOR2, id, true, 100);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.VotingNotOver.selector, id, block.timestamp + 2 * VOTE_WINDOW));
        court.decide(id);
        _toPhase(id, 1);
        vm.expectEmit(true, true, false, true);
        emit IParisMarketTypes.VoteRevealed(id, VALIDATOR1, true, 300, 2 ether);
        _open(VALIDATOR1, id, true, 300);
        _open(VALIDATOR2, id, true, 100);
        vm.assertTrue(_state(id) == IParisMarketTypes.DeltaState.Submitted);
        _toPhase(id, 2);
        vm.expectEmit(true, false, false, true);
        emit IParisMarketTypes.DeltaDecided(id, true, 200);
        court.decide(id);
        vm.assertTrue(_state(id) == IParisMarketTypes.DeltaState.Passed);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSettled.selector, id, block.timestamp - 1 + VOTE_WINDOW));
        court.collect(_ids(id)); // fees wait out the trap window
        _toPhase(id, 3);
        vm.expectEmit(true, true, false, true);
        emit IParisMarketTypes.Collected(id, VALIDATOR1, 0.01 ether, 0);
        vm.prank(VALIDATOR1);
        court.collect(_ids(id));
        vm.prank(VALIDATOR2);
        court.collect(_ids(id));
        vm.assertEq(market.owed(VALIDATOR1), 0.01 ether);
        vm.assertEq(market.owed(VALIDATOR2), 0.01 ether);
        vm.assertEq(uint256(market.getJob(jobId).feePool), 4 ether - 0.02 ether);
        vm.assertEq(_escrow(jobId), 6 ether); // rewards untouched
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToCollect.selector, id, VALIDATOR1));
        court.collect(_ids(id));
        vm.prank(VALIDATOR3);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.AlreadyDecided.selector, id, IParisMarketTypes.DeltaState.Passed));
        court.commitVote(id, bytes32(0));
    }

    function test_votes_reverts() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotStaked.selector, MINER2, 2));
        court.commitVote(id, bytes32(0));
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.UnknownDelta.selector, 1));
        court.commitVote(1, bytes32(0));
        _reveal(id);
        _commit(VALIDATOR1, id, false, 10_001);
        _toPhase(id, 1);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ScoreOutOfRange.selector, 10_001));
        court.revealVote(id, false, 10_001, SALT);
        vm.prank(VALIDATOR2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.VoteMismatch.selector, id, VALIDATOR2));
        court.revealVote(id, true, 0, SALT); // nothing sealed
        _toPhase(id, 2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NoVerdict.selector, id));
        court.decide(id); // no vote opened: below the quorum
    }

    function test_failQuorumMarksFailed() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _fail(id);
        vm.assertTrue(_state(id) == IParisMarketTypes.DeltaState.Failed);
    }
}

contract MergesTest is JobFixture {
    function test_finalize_pricesByScoreAndRecordsTheMerge() public {
        uint256 a = _passed(MINER1, jobId, 0, 0, 150);
        uint256 b = _passed(MINER2, jobId, 0, 0, 100);
        uint256 escrowBefore = _escrow(jobId);
        uint256[] memory ids = _ids(a, b);
        vm.expectEmit(true, true, true, true);
        emit IParisMarketTypes.ExpertFinalized(jobId, 0, 1, keccak256("ckpt"), RAW, ids, 0, 1 ether);
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 1, keccak256("ckpt"), RAW, ids, 0);
        vm.assertEq(uint256(market.versionOf(jobId, 0)), 1);
        vm.assertEq(_payout(a), 0.6 ether); // reward per expert round = 2 ether / 2 experts
        vm.assertEq(_payout(b), 0.4 ether);
        vm.assertEq(_escrow(jobId), escrowBefore - 1 ether);
        vm.assertEq(market.mergeRecord(jobId, 0, 1), keccak256(abi.encode(keccak256("ckpt"), RAW, keccak256(abi.encode(ids)))));
        vm.assertTrue(_state(a) == IParisMarketTypes.DeltaState.Merged);

        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.MergeNotSettled.selector, jobId, 0,
            block.timestamp + VOTE_WINDOW));
        market.claim(ids); // not while the merge may still be disputed
        _settleMerges();
        market.claim(ids);
        vm.assertEq(market.owed(MINER1), 0.6 ether);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToClaim.selector, a, IParisMarketTypes.DeltaState.Paid));
        market.claim(_ids(a));
        uint256 before = MINER2.balance;
        vm.prank(MINER2);
        market.withdraw();
        vm.assertEq(MINER2.balance - before, 0.4 ether);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingOwed.selector, MINER2));
        market.withdraw();
    }

    function test_finalize_rejectsWhatCannotBeMerged() public {
        uint256 a = _passed(MINER1, jobId, 0, 0, 100);
        uint256 pending = _submit(MINER2, jobId, 0, 0);
        uint256 other = _passed(MINER2, jobId, 1, 0, 100);
        vm.startPrank(AGGREGATOR);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.WrongVersion.selector, 2, 1));
        market.finalize(jobId, 0, 2, bytes32(0), RAW, _ids(a), 0);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotMergeable.selector, pending, IParisMarketTypes.DeltaState.Submitted));
        market.finalize(jobId, 0, 1, bytes32(0), RAW, _ids(a, pending), 0);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.DeltaOfOtherExpert.selector, other, jobId, 1));
        market.finalize(jobId, 0, 1, bytes32(0), RAW, _ids(other), 0);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotMergeable.selector, a, IParisMarketTypes.DeltaState.Merged));
        market.finalize(jobId, 0, 1, bytes32(0), RAW, _ids(a, a), 0);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToMerge.selector));
        market.finalize(jobId, 0, 1, bytes32(0), RAW, new uint256[](0), 0);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.ExpertOutOfRange.selector, jobId, 5, 2));
        market.finalize(jobId, 5, 1, bytes32(0), RAW, _ids(a), 0);
        market.finalize(jobId, 0, 1, bytes32(0), RAW, _ids(a), 0);
        _settleMerges();
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotMergeable.selector, a, IParisMarketTypes.DeltaState.Merged));
        market.finalize(jobId, 0, 2, bytes32(0), RAW, _ids(a), 0); // merged once only
        vm.stopPrank();
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotAggregator.selector, jobId, MINER1));
        market.finalize(jobId, 1, 1, bytes32(0), RAW, _ids(other), 0);
    }

    function test_finalize_dropsNothingSilentlyForStaleDeltas() public {
        uint256 old = _passed(MINER2, jobId, 0, 0, 100);
        for (uint32 v = 1; v <= 2; ++v) {
            uint256 id = _passed(MINER1, jobId, 0, v - 1, 100);
            vm.prank(AGGREGATOR);
            market.finalize(jobId, 0, v, bytes32(0), RAW, _ids(id), 0);
            _settleMerges();
            market.claim(_ids(id)); // settles it: MINER1's 2-ether stake backs two unsettled deltas at a time
        }
        uint256 fresh = _passed(MINER1, jobId, 0, 2, 100);
        vm.prank(AGGREGATOR);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.TooStale.selector, 0, 2, 1));
        market.finalize(jobId, 0, 3, bytes32(0), RAW, _ids(fresh, old), 0);
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 3, bytes32(0), RAW, _ids(fresh), 0);
        _settleMerges();
        uint256 late = _passed(MINER2, jobId, 0, 3, 100);
        vm.prank(AGGREGATOR);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.AllRoundsDone.selector, jobId, 0));
        market.finalize(jobId, 0, 4, bytes32(0), RAW, _ids(late), 0);
    }
}

contract SlashingTest is JobFixture {
    function test_slash_failedSpotCheckSplitsStakeBetweenEscrowAndFailVoters() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _fail(id);
        uint256 escrowBefore = _escrow(jobId);
        vm.prank(VALIDATOR3); // did not vote the failure: no reporter's share to take
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSlashable.selector, id, IParisMarketTypes.SlashReason.FailedSpotCheck));
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, keccak256("e"), RAW);
        _toPhase(id, 3);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToCollect.selector, id, VALIDATOR1));
        court.collect(_ids(id)); // the failure pays once the slash landed
        vm.expectEmit(true, true, true, true);
        emit IParisMarketTypes.Slashed(id, MINER1, VALIDATOR1, IParisMarketTypes.SlashReason.FailedSpotCheck, 2 ether, keccak256("e"), RAW);
        vm.prank(VALIDATOR1);
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, keccak256("e"), RAW);
        vm.assertEq(_escrow(jobId) - escrowBefore, 1 ether);
        vm.prank(VALIDATOR1);
        court.collect(_ids(id));
        vm.prank(VALIDATOR2);
        court.collect(_ids(id));
        vm.assertEq(market.owed(VALIDATOR1), 0.5 ether + 0.01 ether); // an equal share of the voters' half, and the fee
        vm.assertEq(market.owed(VALIDATOR2), 0.5 ether + 0.01 ether);
        (uint256 amount, bool slashed) = _stakeOf(MINER1);
        vm.assertEq(amount, 0);
        vm.assertTrue(slashed);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSlashable.selector, id, IParisMarketTypes.SlashReason.FailedSpotCheck));
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, keccak256("e"), RAW);
    }

    function test_slashedMinerCannotWithdrawSubmitOrRestake() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _fail(id);
        vm.prank(VALIDATOR1);
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), RAW);
        vm.startPrank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.IsSlashed.selector, MINER1));
        market.requestUnbond();
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.IsSlashed.selector, MINER1));
        market.withdrawStake();
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.IsSlashed.selector, MINER1));
        market.submitDelta(jobId, 1, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.IsSlashed.selector, MINER1));
        market.stake{value: 5 ether}(1);
        vm.stopPrank();
    }

    function test_slash_withheldRevealOnlyAfterTheWindow() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        uint256 closes = block.timestamp + 1 hours;
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.RevealWindowOpen.selector, id, closes));
        court.slash(id, IParisMarketTypes.SlashReason.WithheldReveal, bytes32(0), RAW);
        vm.warp(closes + 1);
        vm.prank(VALIDATOR1);
        court.slash(id, IParisMarketTypes.SlashReason.WithheldReveal, bytes32(0), RAW);
        vm.assertTrue(_state(id) == IParisMarketTypes.DeltaState.Slashed);
    }

    function test_slash_refusesHonestDeltas() public {
        uint256 revealed = _submit(MINER1, jobId, 0, 0);
        _reveal(revealed);
        vm.warp(block.timestamp + 2 hours);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSlashable.selector, revealed, IParisMarketTypes.SlashReason.WithheldReveal));
        court.slash(revealed, IParisMarketTypes.SlashReason.WithheldReveal, bytes32(0), RAW);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSlashable.selector, revealed, IParisMarketTypes.SlashReason.FailedSpotCheck));
        court.slash(revealed, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), RAW);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotStaked.selector, MINER2, 2));
        court.slash(revealed, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), RAW);
    }
}

/// @notice Tries to re-enter withdraw from its receive hook.
contract Reenterer {
    ParisMarket internal immutable market;
    bool internal attacking;

    constructor(ParisMarket target) payable {
        market = target;
    }

    function stakeAndUnbond() external {
        market.stake{value: 1 ether}(1);
        market.requestUnbond();
    }

    function take() external {
        market.withdrawStake();
        attacking = true;
        market.withdraw();
    }

    receive() external payable {
        if (attacking) {
            attacking = false;
            market.withdraw();
        }
    }
}

contract ReentrancyTest is MarketFixture {
    function test_withdraw_cannotBeReentered() public {
        Reenterer attacker = new Reenterer{value: 1 ether}(market);
        attacker.stakeAndUnbond();
        vm.warp(block.timestamp + UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.TransferFailed.selector, address(attacker), 1 ether));
        attacker.take();
        vm.assertEq(address(attacker).balance, 0);
    }
}

contract FuzzTest is MarketFixture {
    function testFuzz_createJob_escrowsValue(uint96 value, uint16 experts, uint32 rounds) public {
        experts = uint16(_bound(experts, 1, 64));
        rounds = uint32(_bound(rounds, 1, 100));
        value = uint96(_bound(value, rounds, 500 ether));
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.experts = experts;
        terms.rounds = rounds;
        terms.rewardPerRound = uint96(value / rounds);
        vm.deal(REQUESTER, value);
        vm.prank(REQUESTER);
        uint256 id = market.createJob{value: value}(terms);
        vm.assertEq(_escrow(id), uint256(terms.rewardPerRound) * rounds);
        vm.assertEq(_escrow(id) + market.getJob(id).feePool, value);
    }

    function testFuzz_finalize_paysProportionallyAndNeverMoreThanTheReward(uint32 s1, uint32 s2) public {
        s1 = uint32(_bound(s1, 0, market.MAX_SCORE()));
        s2 = uint32(_bound(s2, 0, market.MAX_SCORE()));
        uint256 jobId = _job();
        uint256 a = _passed(MINER1, jobId, 0, 0, s1);
        uint256 b = _passed(MINER2, jobId, 0, 0, s2);
        uint256 escrowBefore = _escrow(jobId);
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 1, bytes32(0), RAW, _ids(a, b), 0);
        uint256 paid = _payout(a) + _payout(b);
        vm.assertLe(paid, 1 ether);
        vm.assertApproxEqAbs(paid, 1 ether, 2);
        vm.assertEq(escrowBefore - _escrow(jobId), paid);
        uint256 cap = 2 * (s1 < s2 ? s1 : s2); // twice the lower median of two scores
        uint256 c1 = s1 < cap ? s1 : cap;
        uint256 c2 = s2 < cap ? s2 : cap;
        if (c1 + c2 > 0) vm.assertApproxEqAbs(_payout(a), uint256(1 ether) * c1 / (c1 + c2), 1);
    }

    function testFuzz_challengedSegments_areDistinctAndInRange(uint16 segments, uint8 challenges, uint256 mined) public {
        challenges = uint8(_bound(challenges, 1, market.MAX_CHALLENGES()));
        segments = uint16(_bound(segments, 1, 64));
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.challenges = challenges;
        vm.prank(REQUESTER);
        uint256 jobId = market.createJob{value: 10 ether}(terms);
        vm.prank(MINER1);
        uint256 id = market.submitDelta(jobId, 0, 0, 0, bytes32(0), RAW, bytes32(0), segments);
        vm.roll(block.number + DELAY + 1 + _bound(mined, 0, 200));
        _fix(id);
        uint16[] memory picked = market.challengedSegments(id);
        vm.assertEq(picked.length, 1 + (challenges < segments - 1 ? challenges : segments - 1));
        vm.assertEq(uint256(picked[0]), segments - 1); // the last segment, always
        for (uint256 i; i < picked.length; ++i) {
            vm.assertTrue(picked[i] < segments);
            for (uint256 j; j < i; ++j) {
                vm.assertTrue(picked[i] != picked[j]);
            }
        }
    }
}
