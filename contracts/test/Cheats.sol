// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice The few forge cheatcodes our tests use. The npm registry's forge-std (1.1.2) needs ds-test,
///         which no registry reachable here carries; forge's own assertion cheatcodes replace it.
interface Vm {
    function prank(address sender) external;
    function deal(address who, uint256 amount) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function assume(bool condition) external pure;
    function assertEq(uint256 left, uint256 right) external pure;
    function assertEq(address left, address right) external pure;
    function assertEq(bytes32 left, bytes32 right) external pure;
    function assertTrue(bool condition) external pure;
}

abstract contract Cheats {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
}
