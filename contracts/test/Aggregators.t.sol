// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {JobFixture} from "./MarketFixture.sol";
import {IParisMarketTypes} from "../src/IParisMarket.sol";

/// @notice The aggregator answers for its merges: it bonds, it must merge every passed delta it had time to see,
///         and a merge refuted by a dispute's committee is rolled back at the cost of its whole stake.
contract AggregatorsTest is JobFixture {
    bytes32 internal constant CKPT = keccak256("ckpt");
    address internal constant DISPUTER = address(0xD15);

    function _finalize(uint256 id) internal returns (uint256[] memory ids) {
        ids = _ids(id);
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 1, CKPT, RAW, ids, 0);
    }

    function _dispute() internal returns (uint256 disputeId) {
        vm.deal(DISPUTER, 1 ether);
        vm.prank(DISPUTER);
        disputeId = court.disputeMerge{value: 1 ether}(jobId, 0);
        vm.roll(block.number + DELAY + 1);
        _fix(disputeId); // its committee is drawn like a delta's
    }

    function test_anUnbondedAggregatorCannotFinalize() public {
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.aggregator = REQUESTER; // the SDK's default: the requester merges its own job
        vm.prank(REQUESTER);
        uint256 own = market.createJob{value: 10 ether}(terms);
        uint256 id = _passed(MINER1, own, 0, 0, 100);
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotStaked.selector, REQUESTER, 4));
        market.finalize(own, 0, 1, CKPT, RAW, _ids(id), 0);
        _stake(REQUESTER, market.ROLE_AGGREGATOR());
        vm.prank(REQUESTER);
        market.finalize(own, 0, 1, CKPT, RAW, _ids(id), 0);
    }

    function test_aMergeThatLeavesOutAPassedDeltaIsRolledBackAndCostsTheAggregatorItsStake() public {
        uint256 honest = _passed(MINER1, jobId, 0, 0, 100);
        uint256 friend = _passed(MINER2, jobId, 0, 0, 1);
        uint256 escrowBefore = _escrow(jobId);
        uint256[] memory ids = _finalize(friend); // the friend's score-1 delta would take the whole share
        vm.assertEq(_payout(friend), 1 ether);

        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.WrongMergeRecord.selector, jobId, 0, 1));
        court.reportOmission(honest, CKPT, RAW, _ids(honest)); // the merge's record, as ExpertFinalized gave it
        vm.prank(MINER1);
        court.reportOmission(honest, CKPT, RAW, ids);
        vm.assertEq(uint256(market.versionOf(jobId, 0)), 0);
        vm.assertTrue(_state(friend) == IParisMarketTypes.DeltaState.Passed);
        vm.assertEq(_payout(friend), 0);
        vm.assertEq(_escrow(jobId), escrowBefore);
        (uint256 amount, bool slashed) = _stakeOf(AGGREGATOR);
        vm.assertTrue(slashed && amount == 0);
        vm.assertEq(market.owed(MINER1), 1 ether); // half the aggregator's 2 ether; the other half burned
        vm.assertEq(market.owed(address(0)), 1 ether);

        vm.prank(AGGREGATOR); // slashed, it merges no more
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.IsSlashed.selector, AGGREGATOR));
        market.finalize(jobId, 0, 1, CKPT, RAW, _ids(honest, friend), 0);
        address next = address(0xA67);
        vm.deal(next, 2 ether);
        _stake(next, market.ROLE_AGGREGATOR());
        vm.prank(REQUESTER);
        market.setAggregator(jobId, next);
        vm.prank(next);
        market.finalize(jobId, 0, 1, CKPT, RAW, _ids(honest, friend), 0);
        vm.assertEq(_payout(honest), 666_666_666_666_666_666); // capped at twice the lower median (the friend's 1)
        vm.assertEq(_payout(friend), 333_333_333_333_333_333);
    }

    function test_aDeltaTheAggregatorCannotReadIsPaidNotMergedAndNoOmission() public {
        uint256 readable = _passed(MINER1, jobId, 0, 0, 100);
        uint256 hidden = _passed(MINER2, jobId, 0, 0, 100); // its miner unpinned it once it had passed
        vm.prank(AGGREGATOR);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToMerge.selector));
        market.finalize(jobId, 0, 1, CKPT, RAW, _ids(hidden), 1); // a merge reads one delta at least
        vm.expectEmit(true, true, true, true);
        emit IParisMarketTypes.ExpertFinalized(jobId, 0, 1, CKPT, RAW, _ids(readable, hidden), 1, 1 ether);
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 1, CKPT, RAW, _ids(readable, hidden), 1);
        vm.assertEq(_payout(hidden), 0.5 ether); // paid for the work its committee checked, like the other
        vm.assertEq(_payout(readable), 0.5 ether);
        vm.prank(MINER2); // so hiding its delta to bait an omission report earns its miner nothing
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotOmitted.selector, hidden));
        court.reportOmission(hidden, CKPT, RAW, _ids(readable, hidden));
    }

    function test_aDeltaDecidedTooLateForTheMergeIsNoOmission() public {
        uint256 early = _passed(MINER1, jobId, 0, 0, 100);
        uint256 late = _passed(MINER2, jobId, 0, 0, 100); // decidable only just now
        uint256[] memory ids = _finalize(early);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotOmitted.selector, late));
        court.reportOmission(late, CKPT, RAW, ids);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotOmitted.selector, early));
        court.reportOmission(early, CKPT, RAW, ids); // merged
        _settleMerges();
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 2, CKPT, RAW, _ids(late), 0); // it goes into the next merge
    }

    function test_aRefutedMergeIsRolledBackAndCostsTheAggregatorItsStake() public {
        uint256 id = _passed(MINER1, jobId, 0, 0, 100);
        uint256[] memory ids = _finalize(id); // its checkpoint is not the merge of `id` (`verify-merge` says so)
        vm.prank(DISPUTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.StakeTooSmall.selector, 0, MIN_STAKE));
        court.disputeMerge(jobId, 0);
        uint256 disputeId = _dispute();
        vm.assertEq(disputeId, court.disputeIdOf(jobId, 0, 1, uint40(block.timestamp)));
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.AlreadyDisputed.selector, disputeId));
        court.disputeMerge{value: 1 ether}(jobId, 0);

        _stake(AGGREGATOR, market.ROLE_VALIDATOR());
        vm.prank(AGGREGATOR); // never a judge of its own merge
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.OwnDelta.selector, disputeId, AGGREGATOR));
        court.commitVote(disputeId, bytes32(0));
        _commit(VALIDATOR1, disputeId, false, 0);
        _commit(VALIDATOR2, disputeId, false, 0);
        _commit(VALIDATOR3, disputeId, true, 0); // the lazy one: passes what it did not rebuild
        _toPhase(disputeId, 1);
        _open(VALIDATOR1, disputeId, false, 0);
        _open(VALIDATOR2, disputeId, false, 0);
        _open(VALIDATOR3, disputeId, true, 0);
        _toPhase(disputeId, 2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.UndecidedDispute.selector, disputeId));
        court.resolveDispute(disputeId, CKPT, RAW, ids);
        court.decide(disputeId);
        bytes memory unsettled = abi.encodeWithSelector(IParisMarketTypes.MergeNotSettled.selector, jobId, 0,
            uint256(market.mergedAt(jobId, 0)) + VOTE_WINDOW);
        vm.expectRevert(unsettled);
        market.claim(ids); // no payout leaves a refuted merge
        vm.prank(MINER2);
        vm.expectRevert(unsettled); // nor a delta trained on its checkpoint, which the rollback would orphan
        market.submitDelta(jobId, 0, 1, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotReleasable.selector, disputeId,
            IParisMarketTypes.DeltaState.Failed));
        market.release(disputeId);

        court.resolveDispute(disputeId, CKPT, RAW, ids);
        vm.assertEq(uint256(market.versionOf(jobId, 0)), 0);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.FutureVersion.selector, 1, 0));
        market.submitDelta(jobId, 0, 1, 0, bytes32(0), RAW, bytes32(0), 8);
        vm.assertTrue(_state(id) == IParisMarketTypes.DeltaState.Passed); // to be merged again, by someone else
        (uint256 amount, bool slashed) = _stakeOf(AGGREGATOR);
        vm.assertTrue(slashed && amount == 0);
        vm.assertEq(market.owed(DISPUTER), 1 ether + 2 ether); // its bond back, half the aggregator's 4 ether
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.AlreadyResolved.selector, disputeId));
        court.resolveDispute(disputeId, CKPT, RAW, ids);

        _toPhase(disputeId, 3);
        vm.prank(VALIDATOR1);
        court.collect(_ids(disputeId));
        vm.assertEq(market.owed(VALIDATOR1), 0.01 ether + 1 ether); // its fee, and half the voters' 2 ether
        vm.prank(VALIDATOR1);
        court.slashVoter(disputeId, VALIDATOR3);
        (amount, slashed) = _stakeOf(VALIDATOR3);
        vm.assertTrue(slashed && amount == 0);
    }

    function test_aFrivolousDisputeCostsTheDisputerItsBondAndTheMergeStands() public {
        uint256 id = _passed(MINER1, jobId, 0, 0, 100);
        uint256[] memory ids = _finalize(id);
        uint256 disputeId = _dispute();
        _commit(VALIDATOR1, disputeId, true, 0);
        _commit(VALIDATOR2, disputeId, true, 0);
        _toPhase(disputeId, 1);
        uint256 settlesAt = uint256(market.mergedAt(jobId, 0)) + VOTE_WINDOW;
        vm.prank(AGGREGATOR);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.MergeNotSettled.selector, jobId, 0, settlesAt));
        market.finalize(jobId, 0, 2, CKPT, RAW, ids, 0); // past the window, but the dispute is open
        _open(VALIDATOR1, disputeId, true, 0);
        _open(VALIDATOR2, disputeId, true, 0);
        _toPhase(disputeId, 2);
        court.decide(disputeId);
        vm.prank(MINER2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.MergeNotSettled.selector, jobId, 0, settlesAt));
        market.submitDelta(jobId, 0, 1, 0, bytes32(0), RAW, bytes32(0), 8); // upheld, but not yet resolved
        court.resolveDispute(disputeId, CKPT, RAW, ids);
        vm.assertEq(market.owed(AGGREGATOR), 1 ether); // the bond pays the aggregator for the delay
        vm.assertEq(uint256(market.versionOf(jobId, 0)), 1);
        _submit(MINER2, jobId, 0, 1); // settled: its checkpoint stays
        market.claim(ids);
        vm.assertEq(market.owed(MINER1), 1 ether);
    }

    function test_aMergeCanBeDisputedOnlyInItsWindowAndAnUndecidedDisputeReturnsTheBond() public {
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToDispute.selector, jobId, 0));
        court.disputeMerge{value: 1 ether}(jobId, 0);
        uint256[] memory ids = _finalize(_passed(MINER1, jobId, 0, 0, 100));
        uint256 disputeId = _dispute();
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.MergeNotSettled.selector, jobId, 0,
            block.timestamp + VOTE_WINDOW));
        market.setAggregator(jobId, REQUESTER); // a dispute answers to the aggregator that made the merge
        _toPhase(disputeId, 2); // nobody voted
        court.resolveDispute(disputeId, CKPT, RAW, ids);
        vm.assertEq(market.owed(DISPUTER), 1 ether);
        vm.assertEq(uint256(market.getStake(AGGREGATOR).open), 0);
        vm.deal(DISPUTER, 1 ether);
        vm.prank(DISPUTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.DisputeWindowClosed.selector, jobId, 0,
            uint256(market.mergedAt(jobId, 0)) + VOTE_WINDOW));
        court.disputeMerge{value: 1 ether}(jobId, 0);
    }
}
