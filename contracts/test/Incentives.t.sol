// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {JobFixture} from "./MarketFixture.sol";
import {IParisMarket} from "../src/IParisMarket.sol";

/// @notice The attacks of issue 15 that the contract now refuses, each tried as an attacker would.
contract IncentivesTest is JobFixture {
    function test_failVoteBeforeTheChallengeIsRefused() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.prank(VALIDATOR1); // a freshly staked Sybil would fail the delta before the miner could answer
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.VoteBeforeReveal.selector, id));
        market.submitScore(id, false, 0);
    }

    function test_minerHoldingTheValidatorRoleCannotVoteOnOrReportItsOwnDelta() public {
        _stake(MINER1, market.ROLE_VALIDATOR());
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.OwnDelta.selector, id, MINER1));
        market.submitScore(id, true, 10_000);

        uint256 withheld = _submit(MINER1, jobId, 1, 0);
        vm.warp(block.timestamp + 1 hours + 1);
        vm.prank(MINER1); // reporting its own withheld reveal would keep half its stake
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.OwnDelta.selector, withheld, MINER1));
        market.slash(withheld, IParisMarket.SlashReason.WithheldReveal, bytes32(0), RAW);
    }

    function test_splitVotesEarnNothing() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        vm.prank(VALIDATOR1);
        market.submitScore(id, true, 10_000);
        vm.prank(VALIDATOR2);
        market.submitScore(id, false, 0);
        uint256[] memory ids = _ids(id);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NothingToCollect.selector, id, VALIDATOR1));
        market.collect(ids);
        vm.prank(VALIDATOR2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NothingToCollect.selector, id, VALIDATOR2));
        market.collect(ids);
        vm.assertEq(uint256(market.getJob(jobId).feePool), 4 ether);
        vm.assertEq(_escrow(jobId), 6 ether);
    }

    function test_losingSideOfADecidedVoteEarnsNothing() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        vm.prank(VALIDATOR3);
        market.submitScore(id, false, 0); // a lone fail against the quorum that passes it
        _pass(id, 500);
        vm.prank(VALIDATOR3);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NothingToCollect.selector, id, VALIDATOR3));
        market.collect(_ids(id));
    }

    function test_feesNeverEatTheRewards() public {
        IParisMarket.JobTerms memory terms = _terms();
        terms.experts = 1;
        terms.rounds = 1;
        terms.validatorFee = 1 ether;
        vm.prank(REQUESTER);
        uint256 tight = market.createJob{value: 2 ether + 0.5 ether}(terms); // half a fee beyond the reward
        uint256 id = _passed(MINER1, tight, 0, 0, 100);
        vm.prank(VALIDATOR1);
        market.collect(_ids(id));
        vm.prank(VALIDATOR2);
        market.collect(_ids(id));
        vm.assertEq(market.owed(VALIDATOR1) + market.owed(VALIDATOR2), 0.5 ether); // the pool, no more
        vm.prank(AGGREGATOR);
        market.finalize(tight, 0, 1, keccak256("ckpt"), RAW, _ids(id));
        vm.assertEq(_payout(id), 2 ether); // the whole reward, untouched by the fees
    }

    function test_payoutsAbove2To80WeiAreNotTruncated() public {
        IParisMarket.JobTerms memory terms = _terms();
        terms.experts = 1;
        terms.rounds = 1;
        terms.rewardPerRound = uint96(2 ** 81 + 3);
        vm.deal(REQUESTER, 2 ** 82);
        vm.prank(REQUESTER);
        uint256 big = market.createJob{value: 2 ** 81 + 3}(terms);
        uint256 id = _passed(MINER1, big, 0, 0, 100);
        vm.prank(AGGREGATOR);
        market.finalize(big, 0, 1, keccak256("ckpt"), RAW, _ids(id));
        vm.assertEq(_payout(id), 2 ** 81 + 3);
        vm.assertEq(_escrow(big), 0);
        market.claim(_ids(id));
        vm.assertEq(market.owed(MINER1), 2 ** 81 + 3);
    }

    function test_aLateFinalizeBeatsTheRequestersReclaim() public {
        uint256 id = _passed(MINER1, jobId, 0, 0, 100);
        vm.warp(uint256(market.getJob(jobId).deadline) + 1);
        vm.prank(REQUESTER);
        vm.expectRevert(); // within the finalize grace: DeadlineNotReached
        market.reclaim(jobId);
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 1, keccak256("ckpt"), RAW, _ids(id));
        market.claim(_ids(id));
        vm.assertEq(market.owed(MINER1), 1 ether);
    }

    function test_unbondingRightAfterACheatCannotOutrunTheSlash() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        vm.prank(MINER1);
        market.requestUnbond();
        _fail(id); // unbonding miners can still be judged and slashed
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.OutstandingDeltas.selector, MINER1, 1));
        market.withdrawStake(); // the failed delta is unsettled until slashed (or released, if nobody does)
        vm.prank(VALIDATOR1);
        market.slash(id, IParisMarket.SlashReason.FailedSpotCheck, bytes32(0), RAW);
        (uint256 amount, bool slashed) = _stakeOf(MINER1);
        vm.assertEq(amount, 0);
        vm.assertTrue(slashed);
    }

    function test_oneMinimumStakeBacksOneUnsettledDelta() public {
        _submit(MINER1, jobId, 0, 0);
        _submit(MINER1, jobId, 1, 0); // 2 ether of stake: two unsettled deltas
        IParisMarket.JobTerms memory terms = _terms();
        vm.prank(REQUESTER);
        uint256 other = market.createJob{value: 10 ether}(terms);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.StakeTooSmall.selector, 2 ether, 3 ether));
        market.submitDelta(other, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        _stake(MINER1, market.ROLE_MINER()); // bonding more backs more
        _submit(MINER1, other, 0, 0);
        vm.assertEq(uint256(market.getStake(MINER1).open), 3);
    }

    function test_release_freesTheStakeOfDeltasThatWillNeverSettle() public {
        uint256 stale = _passed(MINER2, jobId, 0, 0, 100); // passed, then aged out
        uint256 undecided = _submit(MINER2, jobId, 1, 0);
        _reveal(undecided);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NotReleasable.selector, stale, IParisMarket.DeltaState.Passed));
        market.release(stale);
        for (uint32 v = 1; v <= 2; ++v) {
            uint256 id = _passed(MINER1, jobId, 0, v - 1, 100);
            vm.prank(AGGREGATOR);
            market.finalize(jobId, 0, v, bytes32(0), RAW, _ids(id));
            market.claim(_ids(id));
        }
        vm.expectEmit(true, true, false, true);
        emit IParisMarket.Released(stale, MINER2, IParisMarket.DeltaState.Passed);
        market.release(stale);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NotReleasable.selector, undecided, IParisMarket.DeltaState.Submitted));
        market.release(undecided);
        vm.warp(block.timestamp + 4 hours + 1);
        market.release(undecided);
        vm.assertEq(uint256(market.getStake(MINER2).open), 0);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.AlreadyDecided.selector, undecided, IParisMarket.DeltaState.Released));
        market.submitScore(undecided, true, 100);
        vm.prank(MINER2);
        market.requestUnbond();
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(MINER2);
        market.withdrawStake();
    }

    function test_release_ofAFailedDeltaOnlyAfterItsSlashWindow() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _fail(id);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NotReleasable.selector, id, IParisMarket.DeltaState.Failed));
        market.release(id);
        vm.warp(block.timestamp + 4 hours + 1);
        market.release(id);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NotSlashable.selector, id, IParisMarket.SlashReason.FailedSpotCheck));
        market.slash(id, IParisMarket.SlashReason.FailedSpotCheck, bytes32(0), RAW);
    }

    function test_aGamedScoreIsPricedAtTwiceTheMergesMedianAtMost() public {
        IParisMarket.JobTerms memory terms = _terms();
        terms.experts = 1;
        vm.prank(REQUESTER);
        uint256 id = market.createJob{value: 10 ether}(terms);
        address miner3 = address(0xB0B3);
        vm.deal(miner3, 10 ether);
        _stake(miner3, market.ROLE_MINER());
        uint256 gamed = _passed(MINER1, id, 0, 0, 10_000); // a score inflated 100x
        uint256 a = _passed(MINER2, id, 0, 0, 100);
        uint256 b = _passed(miner3, id, 0, 0, 100);
        uint256[] memory ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (gamed, a, b);
        vm.prank(AGGREGATOR);
        market.finalize(id, 0, 1, keccak256("ckpt"), RAW, ids);
        vm.assertEq(_payout(gamed), 1 ether); // 200 of 400 capped points, not 10,000 of 10,200
        vm.assertEq(_payout(a), 0.5 ether);
        vm.assertEq(_payout(b), 0.5 ether);
    }

    function test_votesCloseAWindowBeforeReleaseSoAFailureCanAlwaysBeSlashed() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        uint256 late = _submit(MINER2, jobId, 0, 0);
        uint256 closes = block.timestamp + 3 hours; // three reveal windows after the submission
        _reveal(id);
        _reveal(late);
        vm.warp(closes);
        _fail(id); // the latest a failure can be decided
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NotReleasable.selector, id, IParisMarket.DeltaState.Failed));
        market.release(id); // the cheater cannot release it ahead of the slash: a whole window is left
        vm.warp(closes + 1);
        vm.prank(VALIDATOR3);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.VotingClosed.selector, late, closes));
        market.submitScore(late, false, 0);
        vm.warp(closes + 1 hours);
        vm.prank(VALIDATOR1);
        market.slash(id, IParisMarket.SlashReason.FailedSpotCheck, bytes32(0), RAW);
        vm.assertTrue(_state(id) == IParisMarket.DeltaState.Slashed);
    }

    function test_aPassedDeltaNobodyMergesIsReleasedAtTheJobsReclaimTime() public {
        uint256 id = _passed(MINER1, jobId, 0, 0, 100); // the aggregator never merges it, nobody reclaims
        uint256 reclaimableAt = uint256(market.getJob(jobId).deadline) + 2 hours;
        vm.warp(reclaimableAt);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NotReleasable.selector, id, IParisMarket.DeltaState.Passed));
        market.release(id);
        vm.warp(reclaimableAt + 1);
        market.release(id);
        vm.assertEq(uint256(market.getStake(MINER1).open), 0);
    }

    function test_anUnrevealedDeltaIsNeverReleasedOnlySlashed() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(abi.encodeWithSelector(IParisMarket.NotReleasable.selector, id, IParisMarket.DeltaState.Submitted));
        market.release(id);
    }
}
